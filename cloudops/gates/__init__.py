"""The gates: "may this go on?", each a pure function over the trail a run holds (:class:`cloudops.trail.Trail`).

- :mod:`cloudops.gates.verified`: a release leaves a stage (is approved there, or promoted out of it) only once
  that stage verified it, for exactly the digests it runs there.
- :mod:`cloudops.gates.promotion`: a release goes into a stage from the stage before it, freely from the build
  stage, else only with that stage's approval of exactly its digests and its passed verification.
- :mod:`cloudops.gates.rollback`: what a rollback goes back to, and when a failed verification is not rolled back.
"""
