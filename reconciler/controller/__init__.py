"""The controller: ``reconciler run``, a long-running GitOps loop over the one-shot engine.

- ``loop``: :class:`Controller`, the passes and the loop (see its module docstring);
- ``scheduling``: intervals, jitter and retry backoff, as pure arithmetic;
- ``state``: the last applied and last attempted revisions, kept across restarts;
- ``settings``: every option (flags, ``RECONCILER_*`` environment, TOML file);
- ``metrics`` and ``serving``: Prometheus metrics and ``/healthz``, ``/readyz``, ``/metrics``;
- ``records``, ``status`` and ``status_page``: the last passes and refused revisions kept in
  memory, the status view collected from them (pure) and the read-only status page, ``/api/status``
  and ``/access`` served beside the metrics;
- ``protocols``: what the loop needs from the Git source, the writer lock and Slack;
- ``triggers``: early ticks asked from outside the loop, coalesced; ``hooks``: the push
  webhook and sync endpoints that ask for them; ``syncing``: the ``sync`` sub-command;
- ``wiring``: a controller built from settings; ``command``: the ``run`` sub-command.
"""
