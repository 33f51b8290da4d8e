"""The AWS adapter: the only code that imports boto3 and botocore.

- ``clients``: ``make_clients(...) -> AwsClients`` (sso-admin, identitystore, organizations,
  sts) with adaptive retries, client-side rate limits and a count of calls by operation;
- ``errors``: botocore errors translated once into ``TemporaryAwsError``/``PermanentAwsError``;
- ``reading``: ``read_live_state(clients, *, instance_arn=None, targets=None,
  assignments_by="permission-set", previous=None) -> LiveState`` (complete by default; the
  ``"hybrid"`` way reads fewer calls given the ``previous`` read), with the caller
  (``read_caller``: management account or delegated administrator) and ``instance_not_found``
  errors that name the Region;
- ``organizations``: ``read_organization(clients, *, reads, account_ids)``: the OU tree,
  management account and account tags that assignment targets need;
- ``applying``: ``apply_plan(clients, plan, live, *, settings=None) -> Outcome``;
- ``permissions``: the registry of every operation each role (plan, apply, lease) may call, and
  the IAM policy documents made from it (``reconciler iam-policy``); imports no boto3.

Submodules are imported by name (nothing is imported here), so that importing the package does
not load boto3 until a client is needed.
"""
