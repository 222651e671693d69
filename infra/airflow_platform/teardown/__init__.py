"""Tearing an ephemeral (`pr-<n>`) stack down so that nothing is left behind.

One module per concern: `naming` (what the stack's naming rule owns, for what no tag can
find), `audit` (the orphan audit: the Resource Groups Tagging API in every region the stack
used, plus names), `automation` (the Pulumi Automation API behind a small interface,
`StackBackend`), `order` (the phases a destroy runs in), `settle` (waiting for what AWS
deletes on its own time: load balancers, volumes, instances and network interfaces made
from inside the cluster or for in-VPC Lambdas), `destroy` (the phases, the waits, then the
audit) and `reaper` (which stacks have expired, each destroyed and removed, one report).
"""
