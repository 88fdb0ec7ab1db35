"""Load ramps (`triage probe --load`): per layer target, steps of rising load, the capacity
they find and the generator's own limit. config (the ``load:`` section), naming (metric
names), schedule (the one open-loop scheduler), transports (one request per layer), ramp
(steps, stop rules, what is recorded)."""
