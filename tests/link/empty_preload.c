/* A preloaded library that does nothing (one int): what loading any library
 * costs a trivial program, against which tests/link/startup.sh counts
 * pcmalloc's own page faults. */
int pcm_test_empty_preload;
