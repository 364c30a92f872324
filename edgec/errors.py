"""The one error type users see. The CLI prints it as a single ``edgec: error: ...`` line
and exits with code 2; the Python API raises it."""


class EdgecError(Exception):
    """Bad input or an impossible request. The message names what is wrong and how to fix it."""


def node_error(node_name: str, op: str, what: str) -> EdgecError:
    """An error about one node of the input model: names the node and its op."""
    return EdgecError(f"node '{node_name}' ({op}): {what}")
