"""Template jobs: data-driven variants of one After Effects project, rendered in batches, with post-render actions
(``aefarm job``; the format is ``engines.aftereffects.jobs.schema``)."""
