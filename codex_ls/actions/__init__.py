"""Natural language to code: the pure core of the codex-ls code actions.

Three code actions write what the user asked for in words:

* *Generate code from comment* (:data:`GENERATE`): code below a comment that describes it;
* *Implement function* (:data:`IMPLEMENT`): the body of a function whose body is empty or a
  placeholder (``pass``, ``...``, ``raise NotImplementedError``, ``todo!()``, ``// TODO``);
* *Edit selection* (:data:`EDIT`): the selected lines rewritten after an instruction written in
  a comment right above them (or given as a command argument).

Everything here is a pure function of a :class:`~codex_ls.documents.Document` (text and
tree-sitter tree) and, for the answer, of the model's text: no server, no model. Finding
(:func:`find_targets`) uses the tree-sitter queries ``grammars/<language>/code_actions.scm``;
:func:`build_messages` writes the chat prompt; :func:`plan_edit` turns the model's answer into
text edits, or refuses it.
"""

from codex_ls.actions.answer import EditPlan, TextEdit, apply_edits, code_block_end, extract_code, plan_edit, reindent
from codex_ls.actions.find import (
    ACTION_KINDS,
    EDIT,
    GENERATE,
    IMPLEMENT,
    TITLES,
    ActionTarget,
    find_targets,
    indent_unit,
    supported,
)
from codex_ls.actions.prompt import SYSTEM_PROMPT, answer_prefix, build_messages

__all__ = [
    "ACTION_KINDS",
    "EDIT",
    "GENERATE",
    "IMPLEMENT",
    "TITLES",
    "ActionTarget",
    "EditPlan",
    "SYSTEM_PROMPT",
    "TextEdit",
    "answer_prefix",
    "apply_edits",
    "build_messages",
    "code_block_end",
    "extract_code",
    "find_targets",
    "indent_unit",
    "plan_edit",
    "reindent",
    "supported",
]
