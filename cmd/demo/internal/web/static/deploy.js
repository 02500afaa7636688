// The "Deployment facts" panel: the latest committed figures of the
// deployment measurements (loadgen hazards, SSE over HTTP/2, compression),
// each with the results/ file it comes from. deployment-facts.json is a copy
// of results/deployment-facts.json, embedded with the page (a test keeps
// the two equal).
export async function renderDeploymentFacts(table, empty) {
  let facts = [];
  try {
    const r = await fetch("deployment-facts.json", { cache: "no-store" });
    if (r.ok) facts = (await r.json()).facts || [];
  } catch (e) {
    facts = [];
  }
  empty.hidden = facts.length > 0;
  table.hidden = facts.length === 0;
  const cell = (tag, text, cls) => {
    const el = document.createElement(tag);
    el.textContent = text || "–";
    if (cls) el.className = cls;
    return el;
  };
  table.tBodies[0].replaceChildren(...facts.map((f) => {
    const tr = document.createElement("tr");
    const src = cell("td", "", "src");
    const code = document.createElement("code");
    code.textContent = f.source;
    src.replaceChildren(code);
    tr.append(cell("th", f.topic), cell("td", f.broken, "broken"), cell("td", f.fixed, "fixed"), cell("td", f.fix, "fix"), src);
    return tr;
  }));
}
