#ifndef PCM_GLIBC_SHIM_TEMP_FILE_H
#define PCM_GLIBC_SHIM_TEMP_FILE_H
int create_temp_file(const char *base, char **filename);
void add_temp_file(const char *name);
#endif
