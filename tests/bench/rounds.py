#!/usr/bin/env python3
"""A working branch's rounds (docs/performance.md): branch P of a 200-file
base rewrites 3 files of 1 KiB, makes a child, the child writes a file and
is committed (2 rounds of 3) or aborted.  After N rounds: P's layers (from
the state log), the storage's size, the median time of 300 lookups of
missing names in P, and of 40 first stats of base files after dropping the
caches (root).  Mounts in a scratch directory and unmounts at the end.

usage: tests/bench/rounds.py BRANCHFSD N"""
import os, sys, time, subprocess, statistics, tempfile, shutil

daemon, rounds = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp(prefix="rounds-")
base, mnt, st = (os.path.join(d, x) for x in ("base", "mnt", "st"))
os.makedirs(base); os.makedirs(mnt)
for i in range(200):
    os.makedirs(f"{base}/src/d{i % 20}", exist_ok=True)
    with open(f"{base}/src/d{i % 20}/f{i}", "w") as f:
        f.write("x" * 1000)
proc = subprocess.Popen([daemon, "-f", "--base", base, "--storage", st, mnt])
for _ in range(100):
    if os.path.exists(f"{mnt}/.branchfs_ctl"):
        break
    time.sleep(0.05)

def ctl(branch, cmd):
    p = f"{mnt}/@{branch}/.branchfs_ctl" if branch else f"{mnt}/.branchfs_ctl"
    with open(p, "w") as f:
        f.write(cmd)

def p_layers():
    n = None
    for line in open(f"{st}/state"):
        t = line.split()
        if t and t[0] == "B" and t[-1] == "50":
            n = int(t[8])
    return n

try:
    ctl(None, "create:P")
    P = f"{mnt}/@P"
    t0 = time.time()
    for r in range(rounds):
        for k in range(3):
            with open(f"{P}/src/d{k}/f{k}", "w") as f:
                f.write(f"round {r} " * 100)
        ctl("P", f"create:c{r}")
        with open(f"{mnt}/@c{r}/src/d5/new{r % 10}", "w") as f:
            f.write(f"child {r}")
        ctl(f"c{r}", "commit" if r % 3 else "abort")
    build = time.time() - t0
    time.sleep(0.5)
    def lookups(tag):
        ts = []
        for i in range(300):
            p = f"{P}/src/d7/missing-{tag}-{i}"
            a = time.perf_counter_ns()
            os.path.exists(p)
            ts.append(time.perf_counter_ns() - a)
        return statistics.median(ts) / 1000
    neg = lookups("a")
    subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"])
    ts = []
    for i in range(20, 60):
        a = time.perf_counter_ns()
        os.stat(f"{P}/src/d{i % 20}/f{i}")
        ts.append(time.perf_counter_ns() - a)
    cold = statistics.median(ts) / 1000
    du = subprocess.run(["du", "-sm", st], capture_output=True, text=True).stdout.split()[0]
    print(f"rounds {rounds}: build {build:.1f} s ({build / rounds * 1e3:.2f} ms/round), "
          f"P layers {p_layers()}, storage {du} MB, missing-name lookup median {neg:.0f} us, "
          f"first stat after drop_caches median {cold:.0f} us")
finally:
    subprocess.run(["fusermount3", "-uz", mnt])
    proc.terminate()
    proc.wait(timeout=20)
    shutil.rmtree(d, ignore_errors=True)
