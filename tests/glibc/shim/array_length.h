#define array_length(a) (sizeof (a) / sizeof ((a)[0]))
#define array_end(a) (&(a)[array_length (a)])
