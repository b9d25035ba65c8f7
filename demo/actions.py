"""The demo's own actions: an example of how a project registers actions."""
