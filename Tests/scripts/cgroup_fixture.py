"""Real cgroups for the live scripts: children of one parent cgroup, each with a CPU quota and a
memory limit, and real processes moved into them. Works on cgroup v1 (cpu, cpuacct and memory as
separate hierarchies) and v2."""
import os, signal, subprocess, time

ROOT = "/sys/fs/cgroup"
HIERARCHIES = ["cpu", "cpuacct", "memory"] if os.path.isdir(f"{ROOT}/cpu") else [""]
V1 = HIERARCHIES != [""]


class Cgroups:
    def __init__(self, parent):
        self.parent = parent
        self.names = []
        self.processes = []

    def directory(self, h, name=""):
        return os.path.join(ROOT, h, self.parent, name) if h else os.path.join(ROOT, self.parent, name)

    def make(self, name, cores, memory_bytes):
        """A child with `cores` of CFS quota (100 ms period) and a memory limit."""
        for h in HIERARCHIES:
            os.makedirs(self.directory(h, name), exist_ok=True)
        if V1:
            open(self.directory("cpu", name) + "/cpu.cfs_quota_us", "w").write(str(int(cores * 100000)))
            open(self.directory("memory", name) + "/memory.limit_in_bytes", "w").write(str(memory_bytes))
        else:
            open(self.directory("", name) + "/cpu.max", "w").write(f"{int(cores * 100000)} 100000")
            open(self.directory("", name) + "/memory.max", "w").write(str(memory_bytes))
        self.names.append(name)

    def start(self, name, script):
        """`script` run by /bin/sh inside the child, in a session of its own."""
        join = "; ".join(f"echo $$ > {self.directory(h, name)}/cgroup.procs" for h in HIERARCHIES)
        process = subprocess.Popen(["/bin/sh", "-c", f"{join}; {script}"], start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def quota(self, name):
        """The child's CPU quota in microseconds per 100 ms period (-1 or "max": none)."""
        if V1:
            return int(open(self.directory("cpu", name) + "/cpu.cfs_quota_us").read())
        value = open(self.directory("", name) + "/cpu.max").read().split()[0]
        return -1 if value == "max" else int(value)

    def oom_kills(self, name):
        if V1:
            text = open(self.directory("memory", name) + "/memory.oom_control").read()
        else:
            text = open(self.directory("", name) + "/memory.events").read()
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self):
        """Kills every process of the children, then removes them and the parent."""
        for p in self.processes:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        for _ in range(50):
            left = []
            for name in self.names:
                try:
                    left += [int(pid) for pid in open(self.directory(HIERARCHIES[-1], name) + "/cgroup.procs").read().split()]
                except OSError:
                    pass
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        for h in HIERARCHIES:
            for name in self.names + [""]:
                try:
                    os.rmdir(self.directory(h, name))
                except OSError:
                    pass
