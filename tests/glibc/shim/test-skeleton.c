#include "support/test-driver.c"
