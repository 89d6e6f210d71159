"""The kernel library's threads: helpers poll briefly after a job and then sleep, so an idle device
costs the host no CPU time."""

import os
import subprocess
import sys
import textwrap

# Runs parallel kernels, lets the device go idle, then reports the CPU time (clock ticks) every
# other thread of the process used over half a second of idleness.
IDLE_PROBE = textwrap.dedent("""
    import os, threading, time, torch, torch_mlu

    def ticks():
        total = 0
        for task in os.listdir("/proc/self/task"):
            if task == str(threading.get_native_id()):
                continue  # this thread, reading /proc meanwhile, is not idle
            try:
                stat = open(f"/proc/self/task/{task}/stat").read()
            except OSError:
                continue  # the thread exited meanwhile
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total

    a = torch.randn(512, 512, device="mlu")
    for _ in range(20):
        a = torch.tanh(a @ a)  # products split across the helper threads
    torch.mlu.synchronize()
    time.sleep(0.1)  # longer than the helpers' and the queues' polling
    before = ticks()
    time.sleep(0.5)
    print(ticks() - before, os.sysconf("SC_CLK_TCK"))
""")


def test_an_idle_device_uses_no_cpu_time():
    result = subprocess.run([sys.executable, "-c", IDLE_PROBE], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "MLU_KERNEL_THREADS": "2"})
    assert result.returncode == 0, result.stderr
    used, ticks_per_second = map(int, result.stdout.split())
    # A thread that kept polling would use about 50 ticks in the half second; a few ticks of
    # bookkeeping are allowed.
    assert used <= 0.03 * ticks_per_second, f"{used} ticks while idle"
