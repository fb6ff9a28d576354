"""Project fonts on render nodes: collect, install for a job, and remove afterwards, reference-counted per host."""
