from probes import probe
from triage.model import Measurement

@probe("kernel", "dummy")
def dummy(target, ctx):
    return [Measurement.samples("latency", [1,2,3])]
