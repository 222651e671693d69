"""The offline plan: the program under the Pulumi mock runtime, as `pulumi preview --json`."""
