"""decathlon.leaderboard: submit, verify by re-scoring, build the leaderboard.

* :mod:`.bundle`: the submission bundle format, its limits, opening an untrusted one safely;
* :mod:`.submit`: ``decathlon submit`` (results + predictions + provenance, verified first);
* :mod:`.verify`: ``decathlon leaderboard verify`` (every number recomputed from predictions);
* :mod:`.build`: ``decathlon leaderboard build`` (``leaderboard.json`` and the static site);
* :mod:`.challenge`, :mod:`.challenge_verify`: the hidden-target challenge split (a secret
  seed, published inputs, predictions-only bundles verified by the maintainer);
* :mod:`.reference`: the reference baselines' entries in ``leaderboard/entries/``.

Nothing imports this package but the CLI (``docs/architecture.md``); see ``docs/leaderboard.md``.
"""
