// C++ operator new/delete in every form go through pcmalloc, and a failed
// operator new calls the new-handler, then throws std::bad_alloc (nothrow
// forms return nullptr).  Built plain (run under LD_PRELOAD) and linked
// with libpcmalloc.a.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <new>
#include <string>
#include <vector>

extern "C" int pcmalloc_owns(const void *) __attribute__((weak));

static int failures;
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			std::fprintf(stderr, "%s:%d: CHECK failed: %s\n",      \
				     __FILE__, __LINE__, #c);                  \
			failures++;                                            \
		}                                                              \
	} while (0)

struct alignas(256) Wide {
	char b[300];
};

static int handler_calls;
static void handler()
{
	handler_calls++;
	std::set_new_handler(nullptr);
}

int main()
{
	CHECK(pcmalloc_owns != nullptr);
	if (!pcmalloc_owns)
		return 1;
	int *a = new int(5);
	CHECK(pcmalloc_owns(a) && *a == 5);
	delete a;
	int *arr = new int[1000]();
	CHECK(pcmalloc_owns(arr) && arr[999] == 0);
	delete[] arr;
	Wide *w = new Wide;
	CHECK(pcmalloc_owns(w) && reinterpret_cast<uintptr_t>(w) % 256 == 0);
	delete w;
	Wide *wa = new Wide[7];
	CHECK(pcmalloc_owns(wa) && reinterpret_cast<uintptr_t>(wa) % 256 == 0);
	delete[] wa;
	void *al = ::operator new(100, std::align_val_t(4096));
	CHECK(pcmalloc_owns(al) && reinterpret_cast<uintptr_t>(al) % 4096 == 0);
	::operator delete(al, 100, std::align_val_t(4096));
	int *nt = new (std::nothrow) int[10];
	CHECK(pcmalloc_owns(nt));
	delete[] nt;
	std::vector<std::string> v;
	for (int i = 0; i < 10000; i++)
		v.push_back(std::string(i % 100 + 20, 'x'));
	CHECK(pcmalloc_owns(v.data()) && v[9999].size() == 9999 % 100 + 20);

	// Failure: nothrow returns nullptr; throwing form calls the handler
	// (which removes itself), then throws bad_alloc.
	// errno is ENOMEM, as with glibc's malloc under libstdc++'s new.
	size_t huge = size_t(1) << 62;
	errno = 0;
	void *n = ::operator new(huge, std::nothrow);
	CHECK(n == nullptr && errno == ENOMEM);
	errno = 0;
	n = ::operator new[](huge, std::nothrow);
	CHECK(n == nullptr && errno == ENOMEM);
	errno = 0;
	n = ::operator new(huge, std::align_val_t(64), std::nothrow);
	CHECK(n == nullptr && errno == ENOMEM);
	errno = 0;
	n = ::operator new[](huge, std::align_val_t(4096), std::nothrow);
	CHECK(n == nullptr && errno == ENOMEM);
	std::set_new_handler(handler);
	bool threw = false;
	try {
		void *q = ::operator new(huge);
		(void)q;
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw && handler_calls == 1);
	threw = false;
	try {
		void *q = ::operator new(huge, std::align_val_t(64));
		(void)q;
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw);
	if (failures)
		std::fprintf(stderr, "cxx_new: %d check(s) failed\n", failures);
	return failures != 0;
}
