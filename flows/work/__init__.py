"""The work of the flows as plain functions of what a run already holds.

A ``@flow`` entry point resolves its names once (the settings, the stages it acts on, the release, the trail) and
calls these with the objects; the release flow calls them for each stage in turn, with the pipeline it opened
once and the trail it read once, adding to it in memory what each step records. Nothing here opens a stage,
reads a release record or reads the trail again.
"""
