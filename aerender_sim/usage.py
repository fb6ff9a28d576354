"""`aerender-sim -help`: the simulator's usage text, every flag and knob (a TEST INSTRUMENT)."""

USAGE = """\
aerender-sim: a TEST INSTRUMENT standing in for Adobe's aerender (After Effects command-line renderer).
It is not After Effects and renders nothing real: it reads an .aepx, checks footage paths exist on this host,
writes small PNG frames (or ffmpeg movies) and prints aerender-shaped output, so render orchestration can be
tested where After Effects cannot run. A launcher process starts a worker process (standing in for After
Effects) that renders; killing only the launcher leaves the worker running, as with the real thing.

Usage: aerender-sim [flags]   (no flags, or -help anywhere: print this text)
  -project PATH             .aepx project to render (binary .aep is refused: the simulator reads XML only)
  -teamproject NAME         accepted by aerender; refused here (team projects are not simulated)
  -comp NAME                render this comp (an aerender ERROR if no comp has this name)
  -rqindex N                render render-queue item N (1-based); -comp and -rqindex are exclusive here
  -RStemplate T  -OMtemplate T   shown in the settings lines
  -output PATH              output file; [#####] (any count of #) is the zero-padded comp frame number,
                            [compName] and [fileextension] (always png) expand; a sequence name without # gets
                            _[#####] before its extension; .mov/.mp4/.avi write one movie with ffmpeg
                            (FFMPEG env or PATH). Without -output the render-queue item's folder and file
                            template are used. The output folder must exist.
  -log FILE                 also write every reported line to FILE, without the "PROGRESS: " prefix
  -s N  -e N                first and last frame (inclusive; defaults 0 and AERENDER_SIM_COMP_FRAMES-1)
  -i N                      increment: renders s, s+N, s+2N, ... <= e, one progress line each; how the files
                            are numbered is AERENDER_SIM_INCREMENT. Real aerender's -i semantics for image
                            sequences are uncertain (Adobe's text says higher increments repeat the frame);
                            do not rely on the simulator to tell you what aerender does.
  -v ERRORS|ERRORS_AND_PROGRESS   ERRORS hides every "PROGRESS:" line (stdout and -log)
  -close DO_NOT_SAVE_CHANGES|SAVE_CHANGES|DO_NOT_CLOSE   accepted, no effect
  -sound ON|OFF  -reuse  -mem_usage CACHE% MAX%  -mfr ON|OFF MAX_CPU%   accepted, no effect
  -continueOnMissingFootage missing footage prints "MISSING FOOTAGE, drawing color bars: ..." and renders
                            colour-bar frames instead of failing
  -version                  print the version line and exit
Without -comp and -rqindex the whole render queue renders (queue item k renders the k-th comp in the
project, or the first comp; each renders frames 0..AERENDER_SIM_COMP_FRAMES-1; -s/-e/-i/-output ignored).
-comp without -output uses the render-queue item of that comp, else it is an error.
Every footage fileReference (Item > Pin > Als2) must exist on this host (a folder when target_is_folder="1"),
else "After Effects error: Unable to Render: File Not Found <path>" and exit 1. Bad flags print
"aerender ERROR: ..." and this text, exit 1. Flag spelling is exact (case-sensitive).

Behaviour knobs (environment, all optional):
  AERENDER_SIM_STARTUP=SECONDS        launch cost before the first frame, own start-up included (default 0)
  AERENDER_SIM_FRAME_SECONDS=SECONDS  cost of each frame (default 0)
  AERENDER_SIM_COST_MAP=JSON          per-frame costs, e.g. {"181-240": 0.25, "7": 2, "1-99x2": 0.1}
                                      (first matching key wins; others cost AERENDER_SIM_FRAME_SECONDS)
  AERENDER_SIM_BURN_CPU=1             busy-loop the frame cost instead of sleeping (for affinity tests)
  AERENDER_SIM_FPS=N                  comp frame rate for timecodes and movies (default 24; 29.97 = drop-frame)
  AERENDER_SIM_COMP_FRAMES=N          comp duration in frames (default 10)
  AERENDER_SIM_HANG_AT_STARTUP=1      hang silently before "successfully launched" (a modal dialog)
  AERENDER_SIM_HANG_AT_FRAME=N        hang silently before frame N
  AERENDER_SIM_CRASH_AT_FRAME=N       the worker dies by SIGKILL while writing frame N (a partial file stays);
                                      the launcher prints an aerender ERROR line and exits 1
  AERENDER_SIM_LICENSE_ERROR=1        print a licence error and exit 1
  AERENDER_SIM_ERROR_EXIT0=N          print a fatal "After Effects error:" line at frame N, write no more, exit 0
  AERENDER_SIM_MISSING_FONT=1|project|grouped|pt   a missing-fonts warning before the render, worded as
                                      "Project has missing fonts." (1, project), AE 13.5's grouped "missing
                                      dependencies ... Font family:" message, or Portuguese AE's text
  AERENDER_SIM_MISSING_EFFECT=1|effect|plugin      a missing-effect / plug-in warning before the render
  AERENDER_SIM_MISSING_FOOTAGE_WARNING=1|logged|missing|cannot|pt   the first footage file counts as missing
                                      (as do footage files really missing) and is reported ONLY by a WARNING line
                                      printed after "Total Time Elapsed" (as reported for real aerender), worded
                                      "logged one error  error: Unable to Render: File Not Found <path>" (1,
                                      logged), "missing footage <path>", "Cannot find the file <path>" or in
                                      Portuguese; frames are rendered anyway (colour bars), exit 0
  AERENDER_SIM_PARTIAL_LAST_FRAME=BYTES   the last frame's file is cut to BYTES bytes and never completed; its
                                      progress line and the finish lines are printed, exit 0
  AERENDER_SIM_NO_LAST_LINE=1         no progress line for the last frame (its file is written whole)
  AERENDER_SIM_HANG_AFTER_FINISH=1    print "Finished composition" and "Total Time Elapsed", then never exit
                                      (the worker hangs; the launcher waits for it)
  AERENDER_SIM_LAUNCHER_EXIT_AT_LAST_FRAME=SECONDS   the launcher exits 0 as the worker starts writing the
                                      last frame; the worker keeps that file half written for SECONDS, then
                                      completes it and ends on its own (orphaned: its lines go nowhere)
  AERENDER_SIM_LAUNCHER_EXIT_AFTER=SECONDS   the launcher exits 0 SECONDS after starting the worker, without
                                      waiting for it; the orphaned worker renders on
  AERENDER_SIM_WORKER_SETSID=1        the worker leaves the launcher's process group and session at once
                                      (setsid; POSIX only): killing the launcher's group no longer reaches it
  AERENDER_SIM_ANOTHER_INSTANCE=1     print "aerender ERROR: After Effects can not render for aerender. Another
                                      instance of aerender ... may be running ..." and exit 1 (nothing rendered)
  AERENDER_SIM_INCREMENT=comp|consecutive|repeat   how the files of an image sequence rendered with -i N
                                      (N > 1) are numbered: by comp frame (comp, the default: s, s+N, ...),
                                      consecutively from s (consecutive: s, s+1, ...), or each rendered frame
                                      written N times under its own number and the N-1 after it, never past -e
                                      (repeat); one progress line per rendered frame in every case
  AERENDER_SIM_FIELDS=U|L             field rendering: frame lines read "0:00:00:05 (6U): 0 Seconds"
  AERENDER_SIM_LANGUAGE=en|pt|zh      localized error texts and date stamps ("30/04/2018 15:10:50" pt,
                                      "2018/04/30 15:10:50" zh); combine with ENCODING=cp936 for the mojibake a
                                      Chinese Windows build produces; the ASCII prefixes stay English
  AERENDER_SIM_IGNORE_SIGTERM=1       launcher and worker ignore SIGTERM (only SIGKILL stops them)
  AERENDER_SIM_GRANDCHILD=1           the worker starts a sleeping grandchild process (killed at a normal end)
  AERENDER_SIM_FAULT_ONCE=PATH        a fault fires only in the first invocation that reaches it (that one
                                      creates PATH atomically), so a retry succeeds. Faults: HANG_AT_STARTUP,
                                      HANG_AT_FRAME, CRASH_AT_FRAME, LICENSE_ERROR, ERROR_EXIT0, MISSING_FONT,
                                      MISSING_EFFECT, MISSING_FOOTAGE_WARNING, PARTIAL_LAST_FRAME, NO_LAST_LINE,
                                      HANG_AFTER_FINISH, LAUNCHER_EXIT_AT_LAST_FRAME, LAUNCHER_EXIT_AFTER,
                                      ANOTHER_INSTANCE (FIELDS, LANGUAGE, WORKER_SETSID are not faults)
  AERENDER_SIM_RECORD=PATH            append one JSON line per invocation when the launcher exits:
                                      {"argv", "launcher_pid", "worker_pid", "start", "end", "frames", "exit_code",
                                      ...}; a worker orphaned by a killed launcher appends its own line
                                      ("orphaned": true, "exit_code": null)
  AERENDER_SIM_NEWLINE=lf|crlf|cr     line ends on stdout and in the log (default lf)
  AERENDER_SIM_ENCODING=utf-8|cp1252|cp936|shift_jis   encoding of stdout and the log (default utf-8;
                                      unmappable -> ?)
  FFMPEG=PATH                         ffmpeg for movie outputs (default: ffmpeg on PATH)
Exit status: the worker's; 1 for aerender errors or when the worker is killed by a signal.
"""
