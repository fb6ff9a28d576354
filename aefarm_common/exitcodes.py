"""Exit codes shared by every aefarm entry point, so pipelines can tell bad input from a failed render."""

OK = 0
INTERNAL = 1  # a bug or an unexpected environment failure
BAD_INPUT = 2  # bad argument, spec, rules, project, payload or font: one line on stderr names it
MISSING_INPUT = 3  # e.g. `aefarm scan --strict` found footage that does not exist on this host
RENDER_FAILED = 4  # the render ran but frames are missing or a chunk failed; the report names them
CANCELLED = 130  # SIGINT/SIGTERM/CTRL_BREAK: the whole process tree was terminated
CLOSED_STDOUT = 141  # the reader of stdout went away (`| head`): 128 + SIGPIPE, as the shell reports for `seq`
