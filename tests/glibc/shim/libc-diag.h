#define DIAG_PUSH_NEEDS_COMMENT _Pragma("GCC diagnostic push")
#define DIAG_POP_NEEDS_COMMENT _Pragma("GCC diagnostic pop")
#define DIAG_PUSH_NEEDS_COMMENT_CLANG
#define DIAG_POP_NEEDS_COMMENT_CLANG
#define DIAG_IGNORE_NEEDS_COMMENT(v, o) _Pragma("GCC diagnostic ignored \"-Wall\"")
#define DIAG_IGNORE_Os_NEEDS_COMMENT(v, o)
#define DIAG_IGNORE_NEEDS_COMMENT_CLANG(v, o)
