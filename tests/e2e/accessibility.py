"""axe-core's accessibility rules run in the page a browser test shows.

The rules come from frontend/node_modules (a devDependency of the UI), so nothing is downloaded
while the tests run. The console's CSP allows no inline script, which is what
`page.add_script_tag` would add; the file's text is evaluated through the DevTools protocol
instead, which a page's CSP does not govern (and no `securitypolicyviolation` is raised).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
# What blocks or badly hinders someone; axe's "moderate" and "minor" are advice.
BLOCKING = ("serious", "critical")

RUN = """
async (impacts) => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 8),
      html: v.nodes.map((n) => n.html.slice(0, 160)).slice(0, 3),
    }));
}
"""


@cache
def _axe_source() -> str:
    if not AXE.is_file():
        raise AssertionError(f"{AXE} is missing: run `npm ci` in frontend/")
    return AXE.read_text(encoding="utf-8")


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations of axe's rules in the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = page.evaluate(RUN, list(BLOCKING))
    return violations


def describe(found: dict[str, list[dict[str, Any]]]) -> str:
    """One readable block per page: each rule's id, impact, help and the elements it names."""
    lines = []
    for where, violations in found.items():
        if not violations:
            continue
        lines.append(f"{where}:")
        for v in violations:
            lines.append(f"  {v['id']} ({v['impact']}): {v['help']}")
            lines.extend(f"    at {target}" for target in v["targets"])
            lines.extend(f"    {html}" for html in v["html"])
    return "\n".join(lines)
