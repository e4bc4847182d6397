/* vma_names: pcmalloc names its mappings in /proc/self/maps (issue 10).
 *  - where the kernel names anonymous memory (CONFIG_ANON_VMA_NAME,
 *    prctl PR_SET_VMA_ANON_NAME): a huge block lies in a region named
 *    "[anon:pcmalloc huge]", metadata and (per-CPU mode) the per-CPU
 *    regions are named, an arena from mmap (brk:0 child) is
 *    "[anon:pcmalloc arena]", and naming adds few regions: the number of
 *    lines of /proc/self/maps stays within a small bound while 64 huge
 *    blocks come and go;
 *  - where it does not: no region is named, and nothing fails.
 */
#include "pcm_test.h"

#include <sys/prctl.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static char maps[1 << 20];

static void read_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	REQUIRE(f);
	size_t n = fread(maps, 1, sizeof maps - 1, f);
	maps[n] = 0;
	fclose(f);
}

/* The name of the line of /proc/self/maps that holds p ("" if none). */
static const char *name_of(const void *p, char *out, size_t cap)
{
	uintptr_t a = (uintptr_t)p;
	out[0] = 0;
	for (char *line = maps; *line;) {
		char *end = strchr(line, '\n');
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
			char *name = strchr(line, '[');
			size_t len = name ? (size_t)((end ? end : line + strlen(line)) - name) : 0;
			snprintf(out, cap, "%.*s", (int)len, name ? name : "");
			return out;
		}
		if (!end)
			break;
		line = end + 1;
	}
	return out;
}

static int count_lines(void)
{
	int n = 0;
	for (char *c = maps; *c; c++)
		n += *c == '\n';
	return n;
}

static bool kernel_names(void)
{
	void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(m != MAP_FAILED);
	int rc = prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)m, 4096,
		       (unsigned long)"probe");
	munmap(m, 4096);
	return rc == 0;
}

int main(void)
{
	pcm_test_begin("vma_names");
	if (!pcm_active()) {
		printf("vma_names: pcmalloc not active, nothing to check\n");
		return 0;
	}
	char *small = malloc(100), *large = malloc(2 << 20), *huge = malloc(8 << 20);
	REQUIRE(small && large && huge);
	memset(huge, 1, 8 << 20);
	read_maps();
	char buf[256];
	if (!kernel_names()) {
		CHECKF(!strstr(maps, "[anon:pcmalloc"), "a region is named where the kernel cannot");
		printf("vma_names: kernel without CONFIG_ANON_VMA_NAME: no names, as expected\n");
	} else {
		CHECKF(!strcmp(name_of(huge, buf, sizeof buf), "[anon:pcmalloc huge]"),
		       "huge block in '%s'", buf);
		CHECKF(strstr(maps, "[anon:pcmalloc metadata]"), "no metadata region named");
		struct pcmalloc_stats st;
		REQUIRE(pcmalloc_stats_get(&st, sizeof st) == 0);
		if (st.cache_mode == PCMALLOC_CACHE_PER_CPU)
			CHECKF(strstr(maps, "[anon:pcmalloc per-CPU]"), "no per-CPU region named");
		/* Naming does not multiply regions: 64 huge blocks in turn. */
		int before = count_lines();
		for (int i = 0; i < 64; i++) {
			char *h = malloc((size_t)(5 + i % 7) << 20);
			REQUIRE(h);
			h[0] = 1;
			free(h);
		}
		read_maps();
		CHECKF(count_lines() <= before + 2, "%d regions, %d before", count_lines(), before);
		/* An arena from mmap, in a child that cannot use brk. */
		if (getenv("PCMALLOC_CONF") == NULL) {
			fflush(stdout);
			pid_t pid = fork();
			REQUIRE(pid >= 0);
			if (pid == 0) {
				setenv("PCMALLOC_CONF", "brk:0", 1);
				execl("/proc/self/exe", "vma_names", (char *)NULL);
				_exit(127);
			}
			int status;
			REQUIRE(waitpid(pid, &status, 0) == pid);
			CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "brk:0 child failed");
		} else if (strstr(getenv("PCMALLOC_CONF"), "brk:0")) {
			CHECKF(!strcmp(name_of(small, buf, sizeof buf), "[anon:pcmalloc arena]"),
			       "small object in '%s'", buf);
		}
		printf("vma_names: regions named\n");
	}
	free(small);
	free(large);
	free(huge);
	return check_done("vma_names");
}
