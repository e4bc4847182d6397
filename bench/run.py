#!/usr/bin/python3
"""The pcmalloc benchmark runner (see bench/README.md).

Runs every workload under every allocator, interleaved, several times; records
elapsed, user and system time and peak RSS of every run (from wait4()), plus
the throughput each program reports; writes a CSV of every run, a markdown
summary of medians with ratios to the best, and gnuplot charts.

Only Python's standard library is used; run it with Debian's /usr/bin/python3.
Normally started through make (make bench, bench-quick, bench-smoke,
bench-callgrind), which builds the programs first.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LIBDIR = "/usr/lib/x86_64-linux-gnu"

# ---------------------------------------------------------------- allocators

# name -> (Debian package, library file name); glibc needs no preload and
# pcmalloc is the project's own build/libpcmalloc.so.
PEERS = {
    "jemalloc": ("libjemalloc2", "libjemalloc.so.2"),
    "mimalloc": ("libmimalloc2.0", "libmimalloc.so.2"),
    "tcmalloc": ("libtcmalloc-minimal4", "libtcmalloc_minimal.so.4"),
}
ALL_ALLOCATORS = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "pcmalloc"]

# Debian packages that `make bench` installs when missing.
PACKAGES = ["libjemalloc2", "libmimalloc2.0", "libtcmalloc-minimal4",
            "libbenchmark-dev", "redis-server", "redis-tools", "sqlite3",
            "gnuplot-nox", "valgrind", "mawk", "strace"]

# Variables that would change an allocator's behaviour: removed from the
# environment of every run, so that a stray setting cannot skew a result.
ENV_PREFIXES = ("MALLOC_", "MIMALLOC_", "TCMALLOC_", "JEMALLOC", "JE_",
                "PCMALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD", "MALLOCSTATS",
                "PYTHONMALLOC")


def find_lib(soname):
    """Path of a shared library by soname, as the dynamic loader sees it."""
    path = os.path.join(LIBDIR, soname)
    if os.path.exists(path):
        return path
    try:
        out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True,
                             text=True).stdout
    except OSError:
        return None
    for line in out.splitlines():
        if line.strip().startswith(soname + " ") and "=>" in line:
            return line.split("=>")[1].strip()
    return None


def allocator_lib(name, build):
    """The file to preload for an allocator, "" for glibc, None if absent."""
    if name == "glibc":
        return ""
    if name == "pcmalloc":
        path = os.path.abspath(os.path.join(build, "libpcmalloc.so"))
        return path if os.path.exists(path) else None
    return find_lib(PEERS[name][1])


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(ENV_PREFIXES)}
    env["LC_ALL"] = "C"
    return env


# ----------------------------------------------------------------- workloads

class Workload:
    """One workload: a program and its arguments at each scale.

    args maps a mode (full, quick, smoke) to the argument list, or is None
    for modes that do not include the workload by default.  metric is the
    throughput key the program prints (higher is better).  timed says
    whether its elapsed time is a speed result (it is not for mem-return,
    which mostly sleeps, nor for the microbenchmarks, whose run time
    Google Benchmark chooses).
    """

    def __init__(self, name, kind, prog, args, metric, doc, timed=True,
                 env=None, shim=False, timeout=900):
        self.name, self.kind, self.prog, self.args = name, kind, prog, args
        self.metric, self.doc, self.timed = metric, doc, timed
        self.env, self.shim, self.timeout = env or {}, shim, timeout


def W(name, prog, full, quick, smoke, metric, doc, **kw):
    return Workload(name, "prog", prog, {"full": full, "quick": quick,
                                         "smoke": smoke}, metric, doc, **kw)


MICRO_QUICK = (r"^(pair/(16|64|1024|65536)|batch/(lifo|fifo|random)/64|"
               r"calloc/64|realloc/append-64|aligned_alloc/64x100|"
               r"xthread/64|scale/pair-mixed)/")

REDIS_TESTS = "set,get,incr,lpush,rpop,sadd,hset,lrange_100"

WORKLOADS = [
    Workload("micro", "micro", "micro",
             {"full": ["--benchmark_min_time=0.05"],
              "quick": ["--benchmark_min_time=0.02",
                        "--benchmark_filter=" + MICRO_QUICK],
              "smoke": None},
             "items_per_second",
             "Google Benchmark microbenchmarks (bench/micro/)", timed=False),
    W("larson", "larson", [2, 5000, 8, 1000, 400000, 20],
      [2, 5000, 8, 1000, 150000, 6], [2, 1000, 8, 1000, 20000, 3],
      "ops_per_sec", "server simulation: random replacement, remote frees"),
    W("xmalloc", "xmalloc", [4, 8000000], [4, 2000000], None,
      "ops_per_sec", "producer/consumer, small objects, all frees remote"),
    W("cache-scratch", "cache_scratch", [2, 1000, 8, 100000], None, None,
      "writes_per_sec", "passive false sharing"),
    W("cache-thrash", "cache_thrash", [2, 1000, 8, 100000], None, None,
      "writes_per_sec", "active false sharing"),
    W("alloc-test", "alloc_test", [2, 15000000], [2, 3000000], None,
      "ops_per_sec", "power-law sizes and lifetimes, 2 threads"),
    W("mstress", "mstress", [4, 40, 50000], [4, 10, 50000], None,
      "ops_per_sec", "thread churn, realloc, objects outliving threads"),
    W("glibc-bench", "glibc_bench", [200000], [50000], [3000],
      "ops_per_sec", "fixed working set, FIFO/LIFO, main and 2nd thread"),
    W("large-calloc", "large_calloc", [400], None, None,
      "mib_per_sec", "5-25 MiB calloc, page touching"),
    W("grow-buffer", "grow_buffer", [20000, 100, 8], [20000, 100, 8],
      [2000, 100, 8], "steps_per_sec",
      "a buffer rebuilt 8 bytes larger each step (malloc, memcpy, free)"),
    W("frag", "frag", [20, 400000, 128], None, None,
      "ops_per_sec", "long phased run: RSS against live bytes"),
    W("mem-return", "mem_return", [1024], None, None,
      None, "RSS 0.1/1/3 s after freeing a 1 GiB heap", timed=False),
    W("threads-rss", "threads_rss", [64, 200, 200000], [64, 200, 50000],
      None, "ops_per_sec", "64 threads with small working sets: cache RSS"),
    W("thread-churn", "thread_churn", [40000, 4, 64], [6000, 4, 64], None,
      "threads_per_sec", "thousands of short-lived threads"),
    W("startup", "startup", [400], [200], None,
      "execs_per_sec", "exec of a trivial program with the allocator"),
    Workload("redis", "redis", "redis-server",
             {"full": ["-n", "100000"], "quick": None, "smoke": None},
             "rps_geomean",
             "redis-server under redis-benchmark on loopback", shim=True),
    W("python", "/usr/bin/python3", ["@real/pywork.py", 5], None, None,
      "rounds_per_sec", "python3 with PYTHONMALLOC=malloc",
      env={"PYTHONMALLOC": "malloc"}),
    W("sqlite", "sqlite3", ["-batch", ":memory:", ".read @data/sqlite.sql"],
      ["-batch", ":memory:", ".read @data/sqlite-quick.sql"], None,
      None, "sqlite3 in-memory insert/index/query script"),
    W("awk", "/usr/bin/mawk", ["-f", "@real/work.awk", "@data/access.log"],
      None, None, None, "mawk over a generated 400,000-line access log"),
    W("gcc", "/usr/bin/gcc", ["-O2", "-c", "@data/big.c", "-o",
                              "@tmp/big.o"], None, None,
      None, "gcc -O2 on a generated 8000-line C file"),
]
WORKLOAD_BY_NAME = {w.name: w for w in WORKLOADS}

# ------------------------------------------------------------------ helpers


def log(msg):
    print(msg, flush=True)


def die(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)
    sys.exit(2)


def split_list(text):
    return [x for x in re.split(r"[,\s]+", text or "") if x]


KV = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)=(-?[0-9][0-9.eE+-]*)")


def parse_kv(text):
    """Every key=number pair of every line except frag's samples."""
    out = {}
    for line in text.splitlines():
        if line.startswith("sample "):
            continue
        for k, v in KV.findall(line):
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


class Proc:
    """A child process measured by the runstat launcher (bench/tools):
    wall time and wait4()'s rusage of the program alone, which runs with
    preload in LD_PRELOAD (the launcher itself does not)."""

    def __init__(self, ctx, cmd, preload, env, cwd, out, err, timeout):
        fd, self.resfile = tempfile.mkstemp(dir=ctx.tmp, prefix="runstat-")
        os.close(fd)
        launcher = [os.path.join(ctx.bdir, "runstat"), "-o", self.resfile]
        if preload:
            launcher += ["-p", preload]
        self.p = subprocess.Popen(launcher + ["--"] + cmd, env=env, cwd=cwd,
                                  stdout=out, stderr=err,
                                  stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        self.pid = None  # the measured program's pid, looked up on demand
        self.timed_out = False
        self.timer = threading.Timer(timeout, self.kill)
        self.timer.daemon = True
        self.timer.start()

    def child_pid(self):
        """pid of the measured program (the launcher's only child)."""
        try:
            with open("/proc/%d/task/%d/children" % (self.p.pid,
                                                     self.p.pid)) as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except OSError:
            pass
        for d in os.listdir("/proc"):  # no /proc/.../children: scan
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == \
                            self.p.pid:
                        return int(d)
            except (OSError, ValueError, IndexError):
                continue
        return None

    def kill(self):
        self.timed_out = True
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self):
        self.p.wait()
        self.timer.cancel()
        res = {"status": self.p.returncode}
        try:
            with open(self.resfile) as f:
                kv = parse_kv(f.read())
            os.unlink(self.resfile)
            res.update(status=int(kv["status"]), elapsed=kv["elapsed"],
                       user=kv["user"], sys=kv["sys"],
                       maxrss=int(kv["maxrss_kib"]))
        except (OSError, KeyError):
            res["error"] = "no measurement (launcher exit %d)" % \
                self.p.returncode
        return res


def median(xs):
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


# ------------------------------------------------------------------ install


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def install_missing(packages):
    missing = [p for p in packages if not installed(p)]
    if not missing:
        log("bench: all packages present (%s)" % " ".join(packages))
        return True
    if os.geteuid() != 0:
        log("bench: WARNING: not root, cannot install: " + " ".join(missing))
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
    log("bench: installing " + " ".join(missing))
    if subprocess.run(cmd + missing, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env)
        if subprocess.run(cmd + missing, env=env).returncode != 0:
            log("bench: WARNING: could not install " + " ".join(missing))
            return False
    return True


# --------------------------------------------------------------- self-check


def self_check(ctx, allocators):
    """Checks once that each allocator really serves malloc in a process.

    whichmalloc reports which object defines each malloc function (dladdr
    of the symbol the loader binds); then an allocator-specific switch that
    only that allocator understands must produce its output.
    """
    probe = os.path.join(ctx.bdir, "whichmalloc")
    specific = {
        "jemalloc": ({"MALLOC_CONF": "stats_print:true"},
                     "jemalloc statistics"),
        "mimalloc": ({"MIMALLOC_VERBOSE": "1"}, "mimalloc:"),
        "tcmalloc": ({"MALLOCSTATS": "1"}, "MALLOC:"),
        "pcmalloc": ({"PCMALLOC_CONF": "stats:1"}, "pcmalloc"),
        "glibc": ({}, None),
    }
    lines, ok = [], True
    for a in allocators:
        lib = ctx.libs[a]
        env = clean_env()
        if lib:
            env["LD_PRELOAD"] = lib
        r = subprocess.run([probe], env=env, capture_output=True, text=True)
        want = os.path.realpath(lib) if lib else None
        got = {}
        for k, v in KV_PATH.findall(r.stdout):
            got[k] = os.path.realpath(v) if v != "?" else v
        served = set(got.values())
        if a == "glibc":
            good = r.returncode == 0 and len(served) == 1 and \
                os.path.basename(next(iter(served))).startswith("libc.so")
        else:
            good = r.returncode == 0 and served == {want}
        extra_env, marker = specific.get(
            a, specific["pcmalloc"] if is_ours(a) else ({}, None))
        seen = True
        if marker:
            r2 = subprocess.run([probe], env=dict(env, **extra_env),
                                capture_output=True, text=True)
            seen = marker in (r2.stdout + r2.stderr)
        status = "ok" if good else "FAILED"
        note = ""
        if marker:
            note = "; %s=%s prints '%s': %s" % (
                list(extra_env)[0], list(extra_env.values())[0], marker,
                "yes" if seen else "no")
        line = "%-9s %-6s malloc from %s%s" % (
            a, status, ", ".join(sorted(served)) or "?", note)
        if not good:
            ok = False
            line += "\n          whichmalloc said: %s %s" % (
                r.stdout.strip(), r.stderr.strip()[:300])
        elif marker and not seen and not is_ours(a):
            ok = False
            line += "  (allocator switch had no effect)"
        lines.append(line)
        log("self-check: " + line)
    return ok, lines


KV_PATH = re.compile(r"([a-z_]+)=(\S+)")

# -------------------------------------------------------------- the context


class Ctx:
    def __init__(self, args):
        self.build = args.build
        self.bdir = os.path.abspath(os.path.join(args.build, "bench"))
        self.data = os.path.join(self.bdir, "data")
        self.tmp = os.path.join(self.bdir, "tmp")
        self.mode = args.mode
        self.libs = {}
        self.lib_ids = {}
        self.commit, self.commit_short, self.dirty = git_state()
        self.pcmalloc_id = "commit " + self.commit
        self.shim = os.path.join(self.bdir, "libglibcshim.so")

    def expand(self, arg):
        s = str(arg)
        s = s.replace("@real/", os.path.join(HERE, "real") + "/")
        s = s.replace("@data/", self.data + "/")
        s = s.replace("@tmp/", self.tmp + "/")
        return s


def prepare_data(ctx, workloads):
    os.makedirs(ctx.data, exist_ok=True)
    os.makedirs(ctx.tmp, exist_ok=True)
    names = {w.name for w in workloads}
    gens = []
    if "sqlite" in names:
        gens.append(("gen_sqlite.py", "sqlite.sql", []))
        gens.append(("gen_sqlite.py", "sqlite-quick.sql", ["10000",
                                                           "100000"]))
    if "gcc" in names:
        gens.append(("gen_cfile.py", "big.c", []))
    if "awk" in names:
        gens.append(("gen_log.py", "access.log", []))
    for gen, out, extra in gens:
        path = os.path.join(ctx.data, out)
        src = os.path.join(HERE, "real", gen)
        if os.path.exists(path) and \
                os.path.getmtime(path) >= os.path.getmtime(src):
            continue
        subprocess.run([sys.executable, src, path] + extra, check=True)


# --------------------------------------------------------------- running


def resolve_prog(ctx, w):
    prog = w.prog if os.path.isabs(w.prog) or "/" in w.prog else None
    if prog is None:
        local = os.path.join(ctx.bdir, w.prog)
        prog = local if os.path.exists(local) else shutil.which(w.prog)
    return prog


def run_prog(ctx, w, alloc, argv, rep):
    env = clean_env()
    env.update(w.env)
    prog = resolve_prog(ctx, w)
    if not prog:
        return {"status": 127, "error": "%s not found" % w.prog}
    cmd = [prog] + [ctx.expand(a) for a in argv]
    with tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        p = Proc(ctx, cmd, ctx.libs[alloc], env, ctx.tmp, out, err,
                 w.timeout)
        res = p.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    res["stdout"], res["stderr"] = stdout, stderr
    if p.timed_out:
        res["error"] = "timed out after %d s" % w.timeout
    elif "error" in res or res["status"] != 0:
        res["error"] = "%s: %s" % (res.get("error") or
                                   "exit %d" % res["status"],
                                   stderr.strip()[-300:])
    res["kv"] = parse_kv(stdout)
    return res


SYSCALLS = ["madvise", "mmap", "munmap", "mprotect", "brk"]


def count_syscalls(ctx, wls, allocs, path):
    """One untimed run of each program workload per allocator under
    strace -f -c: how many memory system calls it makes."""
    with open(path, "w") as f:
        f.write("workload,allocator," + ",".join(SYSCALLS) + "\n")
        for w in wls:
            if w.kind != "prog":
                continue
            argv = w.args[ctx.mode] if w.args.get(ctx.mode) is not None \
                else w.args["full"]
            for a in allocs:
                fd, trace = tempfile.mkstemp(dir=ctx.tmp, prefix="strace-")
                os.close(fd)
                traced = Workload(w.name, w.kind, "/usr/bin/strace",
                                  {ctx.mode: ["-f", "-qq", "-c", "-o", trace,
                                              "-e", "trace=" + ",".join(SYSCALLS),
                                              resolve_prog(ctx, w)] + list(argv)},
                                  None, w.doc, env=w.env, timeout=w.timeout * 3)
                res = run_prog(ctx, traced, a, traced.args[ctx.mode], 0)
                counts = dict.fromkeys(SYSCALLS, 0)
                try:
                    with open(trace) as t:
                        for line in t:
                            parts = line.split()
                            if parts and parts[-1] in counts and len(parts) >= 4:
                                counts[parts[-1]] = int(parts[3])
                    os.unlink(trace)
                except (OSError, ValueError):
                    pass
                if "error" in res:
                    log("bench: syscalls %s %s: %s" % (w.name, a, res["error"]))
                f.write(csv_line([w.name, a] + [counts[s] for s in SYSCALLS]))
                log("syscalls %-13s %-9s %s" % (w.name, a, " ".join(
                    "%s=%d" % (s, counts[s]) for s in SYSCALLS[:3])))


def resp_command(port, *words, timeout=10):
    """Sends one command to redis (RESP) and returns the raw reply."""
    msg = "*%d\r\n" % len(words) + "".join(
        "$%d\r\n%s\r\n" % (len(w), w) for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(msg.encode())
        if words[0].upper() == "SHUTDOWN":
            try:
                return s.recv(65536).decode(errors="replace")
            except OSError:
                return ""
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data.startswith(b"+") or data.startswith(b"-"):
                if data.endswith(b"\r\n"):
                    break
            elif data.startswith(b"$"):
                head, _, rest = data.partition(b"\r\n")
                if len(rest) >= int(head[1:]) + 2:
                    break
        return data.decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_redis(ctx, w, alloc, argv, rep):
    """redis-server under the allocator, redis-benchmark (unpreloaded) as
    the client; elapsed is the client's run, rusage is the server's."""
    server = shutil.which("redis-server")
    client = shutil.which("redis-benchmark")
    if not server or not client:
        return {"status": 127, "error": "redis-server/redis-benchmark missing"}
    lib = ctx.libs[alloc]
    # Debian's redis-server links libjemalloc: glibc needs the shim.
    preload = lib if lib else ctx.shim
    env = clean_env()
    port = free_port()
    rdir = tempfile.mkdtemp(dir=ctx.tmp, prefix="redis-")
    cmd = [server, "--port", str(port), "--bind", "127.0.0.1",
           "--save", "", "--appendonly", "no", "--dir", rdir,
           "--logfile", os.path.join(rdir, "redis.log"),
           "--daemonize", "no", "--protected-mode", "yes"]
    res = {"kv": {}}
    with open(os.path.join(rdir, "out"), "w") as out:
        p = Proc(ctx, cmd, preload, env, rdir, out, out, w.timeout)
        try:
            for _ in range(100):
                try:
                    if "PONG" in resp_command(port, "PING", timeout=1):
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                raise RuntimeError("redis-server did not start")
            with open("/proc/%d/maps" % p.child_pid()) as f:
                maps = f.read()
            mapped = os.path.realpath(preload) in maps or preload in maps
            t0 = time.monotonic()
            bench = subprocess.run(
                [client, "-h", "127.0.0.1", "-p", str(port), "-q", "--csv",
                 "-c", "20", "-P", "16", "-r", "100000", "-d", "256",
                 "-t", REDIS_TESTS] + argv,
                env=clean_env(), capture_output=True, text=True,
                timeout=w.timeout)
            elapsed = time.monotonic() - t0
            info = resp_command(port, "INFO", "memory")
            resp_command(port, "SHUTDOWN", "NOSAVE")
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            p.kill()
            r = p.wait()
            shutil.rmtree(rdir, ignore_errors=True)
            r["error"] = "redis: %s" % e
            r["kv"] = {}
            return r
        r = p.wait()
    shutil.rmtree(rdir, ignore_errors=True)
    res.update(r)
    res["elapsed"] = elapsed
    rps = {}
    for line in bench.stdout.splitlines():
        m = re.match(r'"([A-Z_0-9]+)[^"]*","([0-9.]+)"', line)
        if m:
            rps[m.group(1).lower()] = float(m.group(2))
    mem = dict(re.findall(r"^(\w+):(\d+)\r?$", info, re.M))
    used = int(mem.get("used_memory", 0))
    je = int(mem.get("allocator_allocated", 0))
    # jemalloc's own counters see the heap only when jemalloc serves it
    serves_right = (je > used / 2) if alloc == "jemalloc" else (je < used / 4)
    kv = {"rps_" + k: v for k, v in rps.items()}
    if rps:
        kv["rps_geomean"] = geomean(list(rps.values()))
    kv["used_memory_mib"] = used / 1048576.0
    res["kv"] = kv
    res["stdout"] = bench.stdout
    if bench.returncode != 0 or not rps:
        res["error"] = "redis-benchmark failed: " + bench.stderr[-300:]
    elif not mapped or not serves_right:
        res["error"] = ("allocator check failed: preload mapped=%s, "
                        "jemalloc counters %d vs used_memory %d"
                        % (mapped, je, used))
    elif "error" in r or r["status"] != 0:
        res["error"] = r.get("error") or "redis-server exit %d" % r["status"]
    return res


def run_micro(ctx, w, alloc, argv, rep):
    res = run_prog(ctx, w, alloc, ["--benchmark_format=json"] + argv, rep)
    cases = {}
    if "error" not in res:
        try:
            doc = json.loads(res["stdout"])
            for b in doc["benchmarks"]:
                if b.get("run_type", "iteration") != "iteration":
                    continue
                name = b["name"].replace("/real_time", "")
                cases[name] = b.get("items_per_second", 0.0)
        except (ValueError, KeyError) as e:
            res["error"] = "cannot parse Google Benchmark output: %s" % e
    res["cases"] = cases
    res["kv"] = {}
    return res


def run_one(ctx, w, alloc, rep):
    argv = w.args[ctx.mode] if w.args.get(ctx.mode) is not None \
        else w.args["full"]
    if w.kind == "redis":
        return run_redis(ctx, w, alloc, argv, rep)
    if w.kind == "micro":
        return run_micro(ctx, w, alloc, argv, rep)
    return run_prog(ctx, w, alloc, argv, rep)


# ---------------------------------------------------------------- storage

RUN_FIELDS = ["seq", "rep", "workload", "allocator", "status", "elapsed_s",
              "user_s", "sys_s", "maxrss_kib", "metric", "value", "extras",
              "error"]


def csv_line(values):
    out = []
    for v in values:
        s = "" if v is None else str(v)
        if any(c in s for c in ',"\n'):
            s = '"' + s.replace('"', '""') + '"'
        out.append(s)
    return ",".join(out) + "\n"


def read_csv(path):
    import csv
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------- reporting


def fmt_time(s):
    if s is None:
        return "-"
    if s >= 100:
        return "%.0f s" % s
    if s >= 1:
        return "%.2f s" % s
    return "%.0f ms" % (s * 1000)


def fmt_mib(kib):
    if kib is None:
        return "-"
    mib = kib / 1024.0
    return "%.0f MiB" % mib if mib >= 99.95 else "%.1f MiB" % mib


def fmt_ns(ns):
    for div, unit in ((1e6, "ms"), (1e3, "µs")):
        if ns >= div:
            return "%.3g %s" % (ns / div, unit)
    return "%.3g ns" % ns


def fmt_num(x):
    if x is None:
        return "-"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return "%.3g%s" % (x / div, suf)
    return "%.3g" % x


def ratio_table(title, rows, allocs, value_fmt, lower_better=True,
                note=None, geo=True, excluded=(), first="workload"):
    """rows: list of (name, {alloc: (median, values)}).  Each cell shows the
    ratio to the best median of its row, then the median itself; the cells
    of pcmalloc (and variants) carry the outcome of the rank test against
    the best other allocator of the row (see significance())."""
    out = ["### " + title, ""]
    if note:
        out += [note, ""]
    out.append("| %s | " % first + " | ".join(allocs) + " |")
    out.append("|---|" + "---:|" * len(allocs))
    ratios = {a: [] for a in allocs}
    tally = {a: {"✔": 0, "✘": 0, "≈": 0} for a in allocs if is_ours(a)}
    for name, cells in rows:
        vals = {a: c[0] for a, c in cells.items() if c and c[0]}
        if not vals:
            continue
        best = min(vals.values()) if lower_better else max(vals.values())
        sig = significance(cells, allocs, lower_better)
        line = "| " + name + (" ¹" if name in excluded else "") + " |"
        for a in allocs:
            c = cells.get(a)
            if not c or c[0] is None:
                line += " FAIL |" if c else " - |"
                continue
            r = c[0] / best if lower_better else best / c[0]
            if name not in excluded:
                ratios[a].append(r)
            cell = "%.2f" % r
            if abs(r - 1.0) < 1e-9:
                cell = "**1.00**"
            mark = ""
            if a in sig and sig[a][0]:
                mark = " " + sig[a][0]
                tally[a][sig[a][0]] += 1
            line += " %s (%s)%s |" % (cell, value_fmt(c[0]), mark)
        out.append(line)
    if geo:
        line = "| **geometric mean** |"
        for a in allocs:
            g = geomean(ratios[a])
            line += " **%.2f** |" % g if g else " - |"
        out.append(line)
    out.append("")
    for a, t in tally.items():
        if sum(t.values()):
            out += ["%s against the best other allocator of each row: "
                    "significantly better in %d, significantly worse in %d, "
                    "no significant difference in %d (p < %.2f)." % (
                        a, t["✔"], t["✘"], t["≈"], ALPHA), ""]
    return out, {a: geomean(ratios[a]) for a in allocs}


# ---------------------------------------------------------------- statistics
#
# Pure standard library.  Each (workload, allocator) cell holds the values of
# its repetitions; a cell's figure is their median.  Two allocators differ
# significantly in a row when the exact two-sided Mann-Whitney U test (a
# rank test: no assumption about the distribution of run times) over their
# repetitions gives p < ALPHA.  Error bars are the distribution-free
# confidence interval of the median given by order statistics.

ALPHA = 0.05
EXACT_LIMIT = 200000  # combinations enumerated before the normal approximation


def ranks(values):
    """Mid-ranks (1-based) of values, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0 + 1
        i = j + 1
    return r


def mann_whitney(xs, ys):
    """Two-sided p-value of the Mann-Whitney U test of xs against ys: exact
    (all splits of the pooled ranks enumerated) for small samples, else the
    normal approximation with the tie correction.  None if a sample has
    fewer than 2 values."""
    import itertools
    n1, n2 = len(xs), len(ys)
    if n1 < 2 or n2 < 2:
        return None
    r = ranks(list(xs) + list(ys))
    mean = n1 * (n1 + n2 + 1) / 2.0
    obs = abs(sum(r[:n1]) - mean)
    if math.comb(n1 + n2, n1) <= EXACT_LIMIT:
        hits = total = 0
        for idx in itertools.combinations(range(n1 + n2), n1):
            total += 1
            if abs(sum(r[i] for i in idx) - mean) >= obs - 1e-9:
                hits += 1
        return hits / total
    n = n1 + n2
    ties = {}
    for v in r:
        ties[v] = ties.get(v, 0) + 1
    var = n1 * n2 / 12.0 * ((n + 1) - sum(t ** 3 - t for t in ties.values())
                             / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = max(0.0, obs - 0.5) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2))


def median_ci(xs):
    """(low, high, coverage): the order-statistic confidence interval of the
    median, the narrowest whose coverage is at least 95%, or min..max when
    there are too few values for that (coverage 1 - 2^(1-n))."""
    xs = sorted(x for x in xs if x is not None)
    n = len(xs)
    if n == 0:
        return None
    if n == 1:
        return (xs[0], xs[0], 0.0)
    best = (xs[0], xs[-1], 1 - 2 * 0.5 ** n)
    for k in range(1, n // 2 + 1):
        # P(Binomial(n, 1/2) <= k - 1)
        tail = sum(math.comb(n, i) for i in range(k)) / 2.0 ** n
        cov = 1 - 2 * tail
        if cov >= 0.95:
            best = (xs[k - 1], xs[n - k], cov)
        else:
            break
    return best


def is_ours(name):
    """pcmalloc and its variants (pcmalloc-secure, ...): the allocators
    judged against the best of the others."""
    return name.startswith("pcmalloc")


def significance(cells, allocs, lower_better):
    """{ours: (mark, p, peer)} for a row: mark is ✔ when the allocator is
    significantly better than the best other allocator of the row, ✘ when
    significantly worse, ≈ when the test finds no difference, '' when it
    cannot be made (fewer than 2 repetitions)."""
    peers = [a for a in allocs if not is_ours(a) and cells.get(a)
             and cells[a][0] is not None]
    if not peers:
        return {}
    pick = min if lower_better else max
    peer = pick(peers, key=lambda a: cells[a][0])
    out = {}
    for a in allocs:
        c = cells.get(a)
        if not is_ours(a) or not c or c[0] is None:
            continue
        p = mann_whitney(c[1] or [], cells[peer][1] or [])
        if p is None:
            out[a] = ("", None, peer)
            continue
        better = c[0] < cells[peer][0] if lower_better else \
            c[0] > cells[peer][0]
        mark = "≈" if p >= ALPHA else ("✔" if better else "✘")
        out[a] = (mark, p, peer)
    return out


MICRO_PER_CHART = 12


def ci_ratios(cells, best):
    """{alloc: (median, low, high)} of a row's cells divided by best, the
    bounds being the median's confidence interval (median_ci)."""
    out = {}
    for a, c in cells.items():
        if not c or c[0] is None:
            continue
        ci = median_ci(c[1]) if c[1] else None
        lo, hi = (ci[0], ci[1]) if ci else (c[0], c[0])
        out[a] = (c[0] / best, lo / best, hi / best)
    return out


def gnuplot_bars(path_base, title, ylabel, names, allocs, matrix, log_y=True):
    """A clustered bar chart (PNG and SVG) of matrix[name][alloc], a number
    or (value, low, high) drawn with an error bar from low to high."""
    gp = shutil.which("gnuplot")
    if not gp or not names:
        return False
    dat = path_base + ".dat"

    def triple(v):
        if v is None:
            return "NaN NaN NaN"
        if not isinstance(v, tuple):
            v = (v, v, v)
        return "%.6g %.6g %.6g" % v

    with open(dat, "w") as f:
        f.write("name " + " ".join("%s %s_low %s_high" % (a, a, a)
                                   for a in allocs) + "\n")
        for n in names:
            f.write('"%s" ' % n + " ".join(triple(matrix[n].get(a))
                                          for a in allocs) + "\n")
    width = min(1600, max(900, 90 + len(names) * (14 * len(allocs) + 22)))
    script = []
    for term, ext in (("pngcairo size %d,620 font 'sans,10'" % width, "png"),
                      ("svg size %d,620 dynamic font 'sans,10'" % width,
                       "svg")):
        script += [
            "set terminal " + term,
            "set termoption noenhanced",
            "set output '%s.%s'" % (path_base, ext),
            "set title '%s'" % title,
            "set rmargin 14",
            "set ylabel '%s'" % ylabel,
            "set style data histograms",
            "set style histogram errorbars gap 1 lw 1",
            "set style fill solid 0.85 border -1",
            "set boxwidth 0.9",
            "set xtics rotate by -35 scale 0 nomirror",
            "set grid ytics",
            "set key top left",
            "set bmargin 8",
            "set logscale y 2" if log_y else "unset logscale y",
            "set yrange [0.9:*]" if log_y else "set yrange [0:*]",
            "set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead "
            "dt 2 lc rgb 'black'" if log_y else "unset arrow 1",
            "set key top left horizontal reverse Left samplen 2 width 2",
            "plot for [i=0:%d] '%s' using 2+3*i:3+3*i:4+3*i:xtic(1) "
            "title columnheader(2+3*i)" % (len(allocs) - 1, dat),
        ]
    subprocess.run([gp], input="\n".join(script), text=True,
                   capture_output=True)
    return True


def gnuplot_frag(path_base, samples, allocs):
    gp = shutil.which("gnuplot")
    if not gp or not samples:
        return False
    dat = path_base + ".dat"
    blocks, titles = [], []
    first = None
    for a in allocs:
        pts = samples.get(a)
        if not pts:
            continue
        if first is None:
            first = pts
        blocks.append("\n".join("%d %.3f" % (s, r / 1024.0)
                                for s, _, r in pts))
        titles.append(a)
    blocks.append("\n".join("%d %.3f" % (s, l / 1024.0)
                            for s, l, _ in first))
    titles.append("live bytes")
    with open(dat, "w") as f:
        f.write("\n\n\n".join(blocks) + "\n")
    script = []
    for term, ext in (("pngcairo size 1100,560 font 'sans,10'", "png"),
                      ("svg size 1100,560 dynamic font 'sans,10'", "svg")):
        script += [
            "set terminal " + term,
            "set termoption noenhanced",
            "set output '%s.%s'" % (path_base, ext),
            "set title 'frag: resident memory against live bytes "
            "(first repetition)'",
            "set xlabel 'allocation steps (millions)'",
            "set ylabel 'MiB'",
            "set grid",
            "set key top left",
            "plot " + ", ".join(
                "'%s' index %d using ($1/1e6):2 with lines lw %s title '%s'"
                % (dat, i, "3 lc rgb 'black' dt 2" if t == "live bytes"
                   else "2", t) for i, t in enumerate(titles)),
        ]
    subprocess.run([gp], input="\n".join(script), text=True,
                   capture_output=True)
    return True


def report(out_dir, allocs=None, header=None):
    runs = read_csv(os.path.join(out_dir, "runs.csv"))
    micro = read_csv(os.path.join(out_dir, "micro.csv"))
    info = os.path.join(out_dir, "run.txt")
    if header is None and os.path.exists(info):
        with open(info, encoding="utf-8") as f:
            header = f.read().splitlines()
    elif header is not None:
        with open(info, "w", encoding="utf-8") as f:
            f.write("\n".join(header) + "\n")
    fsamp = read_csv(os.path.join(out_dir, "frag_samples.csv"))
    if not runs:
        return
    if allocs is None:
        allocs = []
        for r in runs:
            if r["allocator"] not in allocs:
                allocs.append(r["allocator"])
        allocs.sort(key=lambda a: ALL_ALLOCATORS.index(a)
                    if a in ALL_ALLOCATORS else len(ALL_ALLOCATORS))
    wl_order = [w.name for w in WORKLOADS]
    wls = sorted({r["workload"] for r in runs},
                 key=lambda n: wl_order.index(n) if n in wl_order else 99)
    reps = max(int(r["rep"]) for r in runs)

    def cell(w, a, key, conv=float):
        rs = [r for r in runs if r["workload"] == w and r["allocator"] == a]
        if not rs:
            return None
        ok = [r for r in rs if r["status"] == "ok"]
        if not ok:
            return (None, None)
        xs = [conv(r[key]) for r in ok if r[key] not in ("", None)]
        if not xs:
            return (None, None)
        return (median(xs), xs)

    def cpu(r):
        return float(r["user_s"]) + float(r["sys_s"])

    def cpu_cell(w, a):
        ok = [r for r in runs if r["workload"] == w and r["allocator"] == a
              and r["status"] == "ok"]
        if not ok:
            return (None, None) if any(
                r["workload"] == w and r["allocator"] == a
                for r in runs) else None
        xs = [cpu(r) for r in ok]
        return (median(xs), xs)

    timed = [w for w in wls if w != "micro"]
    untimed = {w for w in timed if w in WORKLOAD_BY_NAME
               and not WORKLOAD_BY_NAME[w].timed}
    md = ["# pcmalloc benchmark results", ""]
    if header:
        md += header + [""]
    md += [
        "Medians of %d repetition(s) of each (workload, allocator) run, "
        "interleaved.  Each cell is the **ratio to the best allocator of "
        "its row** (1.00 = best, 1.25 = 25%% worse), followed by the median "
        "itself in parentheses.  The cells of pcmalloc%s carry the outcome "
        "of a two-sided exact **Mann-Whitney U test** (a rank test) of its "
        "repetitions against those of the best other allocator of the row: "
        "**✔** significantly better, **✘** significantly worse (p < %.2f), "
        "**≈** no significant difference: a ratio marked ≈ is not a result, "
        "whatever its size.%s  Error bars in the charts: the median's "
        "distribution-free confidence interval (order statistics; %s).  "
        "¹ marks rows left out of the geometric mean (their elapsed time is "
        "not a speed result).  FAIL: no repetition succeeded (see runs.csv)."
        % (reps, " (and its variants)" if sum(map(is_ours, allocs)) > 1
           else "", ALPHA,
           "  With %d repetitions no difference can reach p < %.2f: use "
           "4 or more." % (reps, ALPHA) if reps < 4 else "",
           "coverage %.1f%% with %d repetitions" % (
               100 * median_ci(list(range(reps)))[2], reps)), ""]

    geo = {}
    rows = [(w, {a: cell(w, a, "elapsed_s") for a in allocs}) for w in timed]
    lines, geo["time"] = ratio_table(
        "Elapsed (wall-clock) time", rows, allocs, fmt_time,
        excluded=untimed)
    md += lines
    rows = [(w, {a: cell(w, a, "maxrss_kib") for a in allocs})
            for w in wls]
    lines, geo["rss"] = ratio_table(
        "Peak RSS", rows, allocs, fmt_mib,
        note="Peak resident set size (wait4's ru_maxrss: for multi-process "
        "workloads, the largest process; for redis, the server).  The "
        "micro row is the whole Google Benchmark process, all cases.")
    md += lines
    rows = [(w, {a: cpu_cell(w, a) for a in allocs}) for w in timed]
    lines, geo["cpu"] = ratio_table(
        "CPU time (user + system)", rows, allocs, fmt_time,
        excluded=untimed)
    md += lines

    # each program's own throughput
    rows = []
    for w in timed:
        wk = WORKLOAD_BY_NAME.get(w)
        if not wk or not wk.metric:
            continue
        cells = {}
        for a in allocs:
            rs = [r for r in runs if r["workload"] == w and r["allocator"] == a]
            if not rs:
                continue
            xs = [float(r["value"]) for r in rs
                  if r["status"] == "ok" and r["value"] not in ("", None)]
            cells[a] = (median(xs), xs) if xs else (None, None)
        rows.append(("%s (%s)" % (w, wk.metric), cells))
    if rows:
        lines, _ = ratio_table(
            "Reported throughput", rows, allocs, fmt_num, lower_better=False,
            geo=False, note="What each program reports itself, higher is "
            "better; the cell ratio is best / value, so again 1.00 is best.")
        md += lines

    # microbenchmarks
    charts = {}
    if micro:
        cases = []
        for r in micro:
            if r["case"] not in cases:
                cases.append(r["case"])
        mrows, mmat = [], {}
        for c in cases:
            cells = {}
            for a in allocs:
                xs = [float(r["items_per_second"]) for r in micro
                      if r["case"] == c and r["allocator"] == a]
                xs = [x for x in xs if x > 0]
                if xs:
                    ns = [1e9 / x for x in xs]
                    cells[a] = (median(ns), ns)
            mrows.append((c, cells))
        lines, geo["micro"] = ratio_table(
            "Microbenchmarks (Google Benchmark): time per operation", mrows,
            allocs, fmt_ns, excluded={"baseline/noop"}, first="case",
            note="Wall time per operation (1e9 / items_per_second; for the "
            "threaded scale/ cases, operations of all threads together).  "
            "An operation is a malloc+free pair unless the case says "
            "otherwise (realloc/append-64: one realloc; realloc/double-to-"
            "64MiB: a whole growth from 16 B to 64 MiB; xthread: one malloc "
            "here and its free in the consumer thread).")
        md += lines
        for c, cells in mrows:
            vals = [v[0] for v in cells.values() if v and v[0]]
            if vals and c != "baseline/noop":
                mmat[c] = ci_ratios(cells, min(vals))
        # One chart per group of cases (pair/, batch/, ...), groups packed
        # into charts of at most MICRO_PER_CHART cases.
        groups = {}
        for c in mmat:
            groups.setdefault(c.split("/")[0], []).append(c)
        charts_cases, cur = [], []
        for g in groups.values():
            if cur and len(cur) + len(g) > MICRO_PER_CHART:
                charts_cases.append(cur)
                cur = []
            cur = cur + g
        if cur:
            charts_cases.append(cur)
        for i, names in enumerate(charts_cases, 1):
            prefixes = ", ".join(dict.fromkeys(n.split("/")[0] + "/"
                                               for n in names))
            if gnuplot_bars(os.path.join(out_dir, "micro-%d" % i),
                            "microbenchmarks (%d/%d: %s): time per "
                            "operation / best" % (i, len(charts_cases),
                                                  prefixes),
                            "ratio to best (log scale, lower is better)",
                            names, allocs, mmat):
                charts["micro-%d" % i] = "Microbenchmarks %d/%d (%s)" % (
                    i, len(charts_cases), prefixes)

    # special tables
    md += special_tables(runs, allocs, wls, out_dir)

    # charts of the ratios
    for key, title, label in (("elapsed_s", "time", "Elapsed time"),
                              ("maxrss_kib", "rss", "Peak RSS")):
        mat, names = {}, []
        for w in (timed if key == "elapsed_s" else wls):
            if key == "elapsed_s" and w in untimed:
                continue
            cells = {a: cell(w, a, key) for a in allocs}
            cells = {a: v for a, v in cells.items() if v and v[0]}
            if not cells:
                continue
            mat[w] = ci_ratios(cells, min(v[0] for v in cells.values()))
            names.append(w)
        if gnuplot_bars(os.path.join(out_dir, title),
                        "%s: median / best allocator" % label,
                        "ratio to best (log scale, lower is better)",
                        names, allocs, mat):
            charts[title] = label
    if fsamp:
        per = {}
        for r in fsamp:
            if r["rep"] == "1":
                per.setdefault(r["allocator"], []).append(
                    (int(r["step"]), int(r["live_kib"]), int(r["rss_kib"])))
        if gnuplot_frag(os.path.join(out_dir, "frag"), per, allocs):
            charts["frag"] = "frag: RSS against live bytes"

    if charts:
        md += ["## Charts", ""]
        for base, label in charts.items():
            md += ["![%s](%s.png) ([SVG](%s.svg))" % (label, base, base), ""]
    if os.path.exists(os.path.join(out_dir, "callgrind.md")):
        md += ["Instruction counts per operation (callgrind, deterministic):"
               " [callgrind.md](callgrind.md).", ""]
    md += ["Raw data: [runs.csv](runs.csv) (every run), "
           "[micro.csv](micro.csv) (every microbenchmark case of every run), "
           "[frag_samples.csv](frag_samples.csv); machine and versions: "
           "[env.txt](env.txt); allocator self-check: "
           "[selfcheck.txt](selfcheck.txt).", ""]
    with open(os.path.join(out_dir, "summary.md"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(md))
    return geo


def special_tables(runs, allocs, wls, out_dir):
    md = []

    def med(w, a, key):
        xs = []
        for r in runs:
            if r["workload"] == w and r["allocator"] == a and \
                    r["status"] == "ok":
                kv = dict(x.split("=", 1) for x in r["extras"].split(";")
                          if "=" in x)
                if key in kv:
                    xs.append(float(kv[key]))
        return median(xs)

    def table(title, w, keys, fmt, note):
        if w not in wls:
            return
        md.extend(["### " + title, "", note, "",
                   "| allocator | " + " | ".join(k for k, _ in keys) + " |",
                   "|---|" + "---:|" * len(keys)])
        for a in allocs:
            vals = [med(w, a, k) for _, k in keys]
            md.append("| %s | " % a + " | ".join(
                fmt % v if v is not None else "-" for v in vals) + " |")
        md.append("")

    table("mem-return: memory kept after freeing 1 GiB", "mem-return",
          [("peak", "peak_mib"), ("after 0.1 s", "retained_100ms_mib"),
           ("after 1 s", "retained_1s_mib"), ("after 3 s", "retained_3s_mib")],
          "%.0f MiB",
          "RSS above the program's baseline, in MiB (medians), once the "
          "heap is freed and the program is idle: lower is better.")
    table("frag: resident memory over live bytes", "frag",
          [("mean RSS / mean live", "rss_over_live"),
           ("worst sample", "rss_over_live_max"),
           ("at the end", "rss_over_live_last")],
          "%.2f",
          "Ratios over the run's samples (medians of the repetitions); 1.00 "
          "would be no overhead at all.  See the frag chart below.")
    table("threads-rss: memory held with 64 threads alive", "threads-rss",
          [("RSS", "rss_kib"), ("RSS per thread", "rss_per_thread_kib"),
           ("live bytes", "live_kib")],
          "%.0f KiB",
          "RSS growth while 64 threads, each with 200 small live blocks, "
          "are alive after their work (medians): memory held in per-thread "
          "or per-CPU caches and heaps, against the live bytes.")
    table("glibc-bench: cost of a malloc/free pair", "glibc-bench",
          [("main FIFO", "main_fifo_ns"), ("main LIFO", "main_lifo_ns"),
           ("thread FIFO", "thread_fifo_ns"),
           ("thread LIFO", "thread_lifo_ns")],
          "%.1f ns",
          "Mean over block sizes 16 B-4 KiB and working sets of 25-6400 "
          "blocks (medians).")
    tests = [t.strip() for t in REDIS_TESTS.split(",")]
    table("redis: requests per second", "redis",
          [(t.upper(), "rps_" + t) for t in tests] + [("geomean",
                                                        "rps_geomean")],
          "%.0f",
          "redis-benchmark -c 20 -P 16 -d 256 -r 100000 (medians, higher "
          "is better).  The client shares the 2 cores with the server.")
    sysc = read_csv(os.path.join(out_dir, "syscalls.csv"))
    if sysc:
        sc_allocs = [a for a in allocs if any(r["allocator"] == a for r in sysc)]
        md.extend(["### Memory system calls per run", "",
                   "madvise / mmap / munmap calls of one run of each workload "
                   "(strace -f -c, a separate untimed run; threads included).",
                   "", "| workload | " + " | ".join(sc_allocs) + " |",
                   "|---|" + "---:|" * len(sc_allocs)])
        for w in dict.fromkeys(r["workload"] for r in sysc):
            cells = []
            for a in sc_allocs:
                r = [x for x in sysc if x["workload"] == w and x["allocator"] == a]
                cells.append("%s / %s / %s" % (r[0]["madvise"], r[0]["mmap"],
                                               r[0]["munmap"]) if r else "-")
            md.append("| %s | %s |" % (w, " | ".join(cells)))
        md.append("")
    return md


# ---------------------------------------------------------------- callgrind


def callgrind(ctx, allocators, out_dir, ops):
    vg = shutil.which("valgrind")
    micro = os.path.join(ctx.bdir, "micro")
    if not vg:
        die("valgrind is not installed (make bench-callgrind installs it)")
    if not os.path.exists(micro):
        die("%s is missing: build it with make bench-callgrind" % micro)
    lst = subprocess.run([micro, "--list"], capture_output=True,
                         text=True).stdout
    cases = []
    for line in lst.splitlines():
        name, exact, op = line.split("\t")
        if exact == "1":
            cases.append((name, op))
    rows = []
    cg_out = os.path.join(ctx.tmp, "callgrind.out")
    for a in allocators:
        for name, op in cases:
            env = clean_env()
            if ctx.libs[a]:
                env["LD_PRELOAD"] = ctx.libs[a]
            r = subprocess.run(
                [vg, "--tool=callgrind", "--collect-atstart=no",
                 "--toggle-collect=micro_measure",
                 "--callgrind-out-file=" + cg_out, micro, "--exact", name,
                 str(ops)], env=env, capture_output=True, text=True)
            total, n = None, None
            m = re.search(r"ops=(\d+)", r.stdout)
            if m:
                n = int(m.group(1))
            if r.returncode == 0 and os.path.exists(cg_out):
                with open(cg_out) as f:
                    for line in f:
                        if line.startswith(("summary:", "totals:")):
                            total = int(line.split()[1])
                            break
                os.unlink(cg_out)
            per = total / n if total and n else None
            rows.append((a, name, op, n, total, per))
            log("callgrind: %-9s %-28s %s" % (
                a, name, "%.1f instructions/op" % per if per
                else "FAILED " + r.stderr[-200:]))
    with open(os.path.join(out_dir, "callgrind.csv"), "w") as f:
        f.write("allocator,case,operation,ops,instructions,per_op\n")
        for row in rows:
            f.write(csv_line(row))
    table = [(name, {a: ((per, None) if per else (None, None))
                     for a, nm, _, _, _, per in rows if nm == name})
             for name, _ in cases]
    md = ["# Instructions per operation (callgrind)", "",
          "Allocators: %s; %s%s" % (
              ", ".join(allocators),
              datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
              "; pcmalloc: " + ctx.pcmalloc_id if "pcmalloc" in allocators
              else ""), "",
          "Instructions executed inside the measured loop, divided by the "
          "number of operations (%d per case, after a warm-up), counted by "
          "`valgrind --tool=callgrind --toggle-collect=micro_measure`: "
          "deterministic, unlike timings on a shared machine.  An operation "
          "is a malloc+free pair unless the case name says otherwise "
          "(calloc+free, aligned_alloc+free, one realloc).  The counts "
          "include the harness loop and the one-byte write to each block: "
          "baseline/noop shows that loop alone.  Instruction counts ignore "
          "cache misses, page faults and system calls: read them with the "
          "timed results.  Valgrind does not implement rseq, so an "
          "allocator built on restartable sequences runs its fallback under "
          "callgrind: pcmalloc's counts here are those of its per-thread "
          "caches, not of its per-CPU fast path.  Each cell: ratio to the "
          "lowest count of its row, then the count." % ops, ""]
    lines, _ = ratio_table("Instructions per operation", table, allocators,
                           lambda x: "%.1f" % x, excluded={"baseline/noop"},
                           first="case")
    md += lines
    mat = {}
    for name, cells in table:
        vals = [c[0] for c in cells.values() if c[0]]
        if vals and name != "baseline/noop":
            mat[name] = {a: c[0] / min(vals) for a, c in cells.items()
                         if c[0]}
    if gnuplot_bars(os.path.join(out_dir, "callgrind"),
                    "instructions per operation / lowest",
                    "ratio to lowest (log scale)", list(mat), allocators,
                    mat):
        md += ["![callgrind](callgrind.png) ([SVG](callgrind.svg))", ""]
    with open(os.path.join(out_dir, "callgrind.md"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(md))
    log("bench: wrote %s/callgrind.md" % out_dir)
    return all(r[5] for r in rows)


# ------------------------------------------------------------------- main


def git_state():
    """(commit, short, dirty files): the commit the results describe and the
    changes of the tree besides bench/results (which the run rewrites)."""
    def git(*a):
        return subprocess.run(["git", "-C", REPO] + list(a),
                              capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=normal", "--",
                ".", ":(exclude)bench/results").splitlines()
    return head or "?", head[:12] or "?", dirty


def snapshot_lib(ctx, name):
    """Copies an allocator of the tree (libpcmalloc.so, variants added with
    --allocator) aside for the whole run, so that a rebuild while the suite
    runs cannot mix two versions in one set of results."""
    import hashlib
    src = ctx.libs[name]
    snap = os.path.join(ctx.bdir, "snapshot")
    os.makedirs(snap, exist_ok=True)
    dst = os.path.join(snap, name + "-" + os.path.basename(src))
    if os.path.realpath(src) != os.path.realpath(dst):
        shutil.copy2(src, dst + ".tmp")
        os.replace(dst + ".tmp", dst)
    with open(dst, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:16]
    ident = "commit %s%s, %s sha256 %s..." % (
        ctx.commit, " + UNCOMMITTED CHANGES" if ctx.dirty else "",
        os.path.basename(src), sha)
    ctx.lib_ids[name] = ident
    if name == "pcmalloc":
        ctx.pcmalloc_id = ident
    log("bench: %s: using a snapshot of %s (%s)" % (name, src, ident))
    return dst


def env_report(ctx, allocators):
    lines = ["date: " + datetime.datetime.now().isoformat(timespec="seconds"),
             "host: " + platform.node(),
             "kernel: " + platform.release(),
             "cpus: %d" % os.cpu_count()]
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            if m:
                lines.append("cpu: " + m.group(1))
        with open("/proc/meminfo") as f:
            lines.append(f.readline().strip())
    except OSError:
        pass
    lines.append("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    for pkg in ["libc6", "libjemalloc2", "libmimalloc2.0",
                "libtcmalloc-minimal4", "libbenchmark-dev", "redis-server",
                "sqlite3", "gcc", "python3"]:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           capture_output=True, text=True)
        lines.append("%s: %s" % (pkg, r.stdout or "not installed"))
    lines.append("commit: %s (%s)" % (ctx.commit, "DIRTY: %d changed file(s)"
                                      % len(ctx.dirty) if ctx.dirty
                                      else "clean tree"))
    for a in allocators:
        if a in ctx.lib_ids:
            lines.append("%s: %s" % (a, ctx.lib_ids[a]))
    for a in allocators:
        lines.append("allocator %s: %s" % (a, ctx.libs[a] or "(no preload)"))
    return lines


def main():
    ap = argparse.ArgumentParser(
        description="pcmalloc benchmark runner (see bench/README.md)")
    ap.add_argument("--mode", choices=["full", "quick", "smoke"],
                    default="full")
    ap.add_argument("--allocators", default="",
                    help="comma/space separated (default: all available)")
    ap.add_argument("--workloads", default="",
                    help="comma/space separated (default: the mode's set)")
    ap.add_argument("--reps", type=int, default=None,
                    help="repetitions (default 4; quick 3, smoke 1)")
    ap.add_argument("--out", default=None, help="results directory")
    ap.add_argument("--build", default="build")
    ap.add_argument("--install-only", action="store_true",
                    help="install missing Debian packages and exit")
    ap.add_argument("--callgrind", action="store_true",
                    help="instruction counts of the microbenchmarks")
    ap.add_argument("--callgrind-ops", type=int, default=20000)
    ap.add_argument("--report", metavar="DIR",
                    help="only regenerate summary.md and charts of DIR")
    ap.add_argument("--list", action="store_true",
                    help="list the workloads and exit")
    ap.add_argument("--no-selfcheck", action="store_true")
    ap.add_argument("--syscalls", action="store_true",
                    help="after the timed runs, run each program workload "
                    "once more per allocator under strace -c and tabulate "
                    "its madvise/mmap/munmap calls (default in full mode)")
    ap.add_argument("--no-syscalls", action="store_true",
                    help="skip that pass in full mode (about 55 s per "
                    "allocator on a quiet machine)")
    ap.add_argument("--pcmalloc", metavar="LIB",
                    help="benchmark this libpcmalloc.so instead of "
                    "BUILD/libpcmalloc.so")
    ap.add_argument("--allocator", metavar="NAME=PATH", action="append",
                    default=[],
                    help="add an allocator: the library at PATH, preloaded, "
                    "under NAME (repeatable); a NAME starting with pcmalloc "
                    "is judged like pcmalloc against the best other "
                    "allocator, e.g. pcmalloc-secure=build/"
                    "libpcmalloc-secure.so")
    ap.add_argument("--allow-dirty", action="store_true",
                    help="run a full benchmark from a tree with uncommitted "
                    "changes (refused otherwise); the results say DIRTY")
    args = ap.parse_args()

    if args.list:
        for w in WORKLOADS:
            modes = ",".join(m for m in ("full", "quick", "smoke")
                             if w.args.get(m) is not None)
            log("%-14s %-18s %s" % (w.name, modes, w.doc))
        return 0
    if args.install_only:
        install_missing(PACKAGES)
        return 0
    if args.report:
        report(args.report)
        log("bench: wrote %s/summary.md" % args.report)
        return 0

    ctx = Ctx(args)
    os.makedirs(ctx.tmp, exist_ok=True)

    # allocators
    for a in ALL_ALLOCATORS:
        ctx.libs[a] = allocator_lib(a, args.build)
    if args.pcmalloc:
        if not os.path.exists(args.pcmalloc):
            die("no such library: " + args.pcmalloc)
        ctx.libs["pcmalloc"] = os.path.abspath(args.pcmalloc)
    added = []
    for spec in args.allocator:
        name, eq, path = spec.partition("=")
        if not eq or not name or not path or not re.match(r"^[\w.+-]+$", name):
            die("--allocator wants NAME=PATH, not '%s'" % spec)
        if name in ALL_ALLOCATORS or name in added:
            die("--allocator %s: that name is taken" % name)
        if not os.path.exists(path):
            die("--allocator %s: no such library %s" % (name, path))
        ctx.libs[name] = os.path.abspath(path)
        added.append(name)
    if args.allocators:
        allocs = split_list(args.allocators)
        for a in allocs:
            if a in added:
                continue
            if a not in ALL_ALLOCATORS:
                die("unknown allocator %s (known: %s)"
                    % (a, " ".join(ALL_ALLOCATORS)))
            if ctx.libs[a] is None:
                die("allocator %s is not available (%s)" % (
                    a, "build it with make lib" if a == "pcmalloc"
                    else "apt-get install " + PEERS[a][0]))
    elif args.mode == "smoke":
        allocs = ["glibc"]
        if ctx.libs["pcmalloc"]:
            allocs.append("pcmalloc")
        else:
            allocs += [a for a in ("jemalloc", "mimalloc", "tcmalloc")
                       if ctx.libs[a]][:1]
    else:
        allocs = [a for a in ALL_ALLOCATORS if ctx.libs[a] is not None]
        for a in ALL_ALLOCATORS:
            if ctx.libs[a] is None:
                log("bench: note: %s not available, skipped" % a)
    allocs += [a for a in added if a not in allocs]

    # The results must describe a commit.
    if ctx.dirty:
        msg = ("the tree has %d uncommitted change(s) outside bench/results "
               "(%s): results would not describe commit %s"
               % (len(ctx.dirty), ", ".join(d[3:] for d in ctx.dirty[:5]),
                  ctx.commit_short))
        if args.mode == "full" and not args.allow_dirty and \
                not args.callgrind:
            die(msg + "; commit first, or pass --allow-dirty to mark the "
                "results DIRTY")
        log("bench: WARNING: " + msg + "; the results are marked DIRTY")

    for a in allocs:
        if a == "pcmalloc" or (a in added and
                               os.path.realpath(ctx.libs[a]).startswith(
                                   os.path.realpath(REPO) + os.sep)):
            ctx.libs[a] = snapshot_lib(ctx, a)

    if args.callgrind:
        out = args.out or os.path.join(HERE, "results")
        os.makedirs(out, exist_ok=True)
        ok = callgrind(ctx, allocs, out, args.callgrind_ops)
        if os.path.exists(os.path.join(out, "runs.csv")):
            report(out)
        return 0 if ok else 1

    # workloads
    if args.workloads:
        wls = []
        for n in split_list(args.workloads):
            if n not in WORKLOAD_BY_NAME:
                die("unknown workload %s (see --list)" % n)
            wls.append(WORKLOAD_BY_NAME[n])
    else:
        wls = [w for w in WORKLOADS if w.args.get(args.mode) is not None]
    # 4 in full mode: the fewest with which the rank test can find a
    # difference (p = 2/70 when every run of one beats every run of the
    # other), and six allocators still fit in about 18 minutes.
    reps = args.reps or {"smoke": 1, "quick": 3}.get(args.mode, 4)
    out = args.out or (os.path.join(HERE, "results") if args.mode == "full"
                       else os.path.join(ctx.bdir, "results-" + args.mode))
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):  # everything this run regenerates
        if f in ("runs.csv", "micro.csv", "frag_samples.csv", "summary.md",
                 "syscalls.csv") or re.match(
                     r"^(micro|micro-\d+|time|rss|frag)\.(png|svg|dat)$", f):
            os.unlink(os.path.join(out, f))

    # the programs must be built
    for w in wls:
        if w.kind in ("prog", "micro") and not os.path.isabs(w.prog) \
                and not shutil.which(w.prog):
            if not os.path.exists(os.path.join(ctx.bdir, w.prog)):
                die("%s is missing: build with make (bench-bins/bench-micro)"
                    % os.path.join(ctx.bdir, w.prog))
    prepare_data(ctx, wls)

    header = ["mode %s, %d repetition(s), allocators: %s; %s"
              % (args.mode, reps, ", ".join(allocs),
                 datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))]
    if ctx.dirty:
        header.append("**DIRTY TREE: these results do not describe a "
                      "commit** (%d uncommitted change(s) on top of %s)"
                      % (len(ctx.dirty), ctx.commit_short))
    else:
        header.append("commit %s, clean tree" % ctx.commit)
    for a in allocs:
        if a in ctx.lib_ids:
            header.append("%s: %s" % (a, ctx.lib_ids[a]))
    envlines = env_report(ctx, allocs)
    with open(os.path.join(out, "env.txt"), "w") as f:
        f.write("\n".join(envlines) + "\n")
    failed = False
    if not args.no_selfcheck:
        ok, lines = self_check(ctx, allocs)
        with open(os.path.join(out, "selfcheck.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if not ok:
            die("allocator self-check failed (see above)")

    total = reps * len(wls) * len(allocs)
    log("bench: %d runs: %d workload(s) x %d allocator(s) x %d rep(s), "
        "results in %s" % (total, len(wls), len(allocs), reps, out))
    t_start = time.monotonic()
    runs_f = open(os.path.join(out, "runs.csv"), "w")
    runs_f.write(",".join(RUN_FIELDS) + "\n")
    micro_f = open(os.path.join(out, "micro.csv"), "w")
    micro_f.write("rep,allocator,case,items_per_second\n")
    frag_f = open(os.path.join(out, "frag_samples.csv"), "w")
    frag_f.write("rep,allocator,step,live_kib,rss_kib\n")
    seq = 0
    for rep in range(1, reps + 1):
        for wi, w in enumerate(wls):
            # rotate the allocator order so that each takes every position
            k = (rep - 1 + wi) % len(allocs)
            order = allocs[k:] + allocs[:k]
            for a in order:
                seq += 1
                res = run_one(ctx, w, a, rep)
                status = "ok" if "error" not in res else "failed"
                kv = res.get("kv", {})
                value = kv.get(w.metric) if w.metric else None
                extras = ";".join("%s=%.6g" % (k2, v)
                                  for k2, v in sorted(kv.items()))
                runs_f.write(csv_line([
                    seq, rep, w.name, a, status,
                    "%.4f" % res["elapsed"] if "elapsed" in res else "",
                    "%.4f" % res["user"] if "user" in res else "",
                    "%.4f" % res["sys"] if "sys" in res else "",
                    res.get("maxrss", ""), w.metric or "",
                    "%.6g" % value if value is not None else "", extras,
                    res.get("error", "")]))
                runs_f.flush()
                for c, ips in res.get("cases", {}).items():
                    micro_f.write(csv_line([rep, a, c, "%.6g" % ips]))
                micro_f.flush()
                if w.name == "frag":
                    for line in res.get("stdout", "").splitlines():
                        m = re.match(r"sample step=(\d+) live_kib=(\d+) "
                                     r"rss_kib=(-?\d+)", line)
                        if m:
                            frag_f.write(csv_line([rep, a] + list(
                                m.groups())))
                    frag_f.flush()
                if status != "ok":
                    failed = True
                    log("[%3d/%d] rep %d %-13s %-14s FAILED: %s" % (
                        seq, total, rep, w.name, a, res["error"]))
                else:
                    log("[%3d/%d] rep %d %-13s %-14s %8s %9s  %s" % (
                        seq, total, rep, w.name, a,
                        fmt_time(res["elapsed"]), fmt_mib(res["maxrss"]),
                        "%s=%s" % (w.metric, fmt_num(value))
                        if value is not None else ""))
    runs_f.close()
    micro_f.close()
    frag_f.close()
    if (args.syscalls or (args.mode == "full" and not args.no_syscalls)) \
            and shutil.which("strace"):
        count_syscalls(ctx, wls, allocs, os.path.join(out, "syscalls.csv"))
    took = time.monotonic() - t_start
    header.append("total run time %.0f s; load average at the end %.2f "
                  "(the machine has %d cores)" % (took, os.getloadavg()[0],
                                                  os.cpu_count()))
    geo = report(out, allocs, header)
    log("bench: done in %.0f s; summary in %s/summary.md" % (took, out))
    if geo and geo.get("time"):
        log("bench: geometric mean of time ratios: " + ", ".join(
            "%s %.2f" % (a, g) for a, g in geo["time"].items() if g))
    if failed:
        log("bench: some runs FAILED (see runs.csv)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
