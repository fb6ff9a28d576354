"""`aerender-sim`: a TEST INSTRUMENT standing in for Adobe's aerender where After Effects cannot run (Linux, CI, the
demo). It is not part of the product: no product module imports it (tests/test_layering.py enforces this); the demo
and the tests reach it only as the `aerender-sim` executable, like any aerender.

Modules: ``launcher`` (what aerender is: flags, the worker process, relaying lines), ``worker`` (what After Effects
is: reads the project, writes frames), ``knobs`` (the AERENDER_SIM_* behaviour knobs), ``usage`` (the -help text
documenting every flag and knob), ``faults`` (costs, hangs, crashes, one-shot faults), ``texts`` (real and localized
wordings), ``png`` (the frames it writes), ``project`` (its .aepx reading), ``records`` (its JSONL invocation record).
"""
