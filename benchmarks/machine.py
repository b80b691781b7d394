"""What machine and versions a benchmark ran on."""

import os
import platform


def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("keras", "tensorflow", "jax", "torch", "timm", "numpy", "ai_edge_litert"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # not installed, or no __version__
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "versions": versions}
