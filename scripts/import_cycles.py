"""Import graph of src/evsearch (module-level and function-level imports), its cycles."""
import ast, sys
from pathlib import Path
root = Path(sys.argv[1])
mods = {}
for p in root.rglob("*.py"):
    rel = p.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__": parts = parts[:-1]
    mods[".".join(parts)] = p
graph = {m: set() for m in mods}
for m, p in mods.items():
    pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
    tree = ast.parse(p.read_text())
    tc = {id(x) for n2 in ast.walk(tree) if isinstance(n2, ast.If) and 'TYPE_CHECKING' in ast.unparse(n2.test) for x in ast.walk(n2)}
    for node in ast.walk(tree):
        if id(node) in tc: continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
            cands = subs if len(subs) == len(node.names) else [target] + subs
        elif isinstance(node, ast.Import):
            cands = [a.name for a in node.names]
        else:
            continue
        for c in cands:
            if c in mods and c != m:
                graph[m].add(c)
# strongly connected components (Tarjan)
idx, low, st, on, out, n = {}, {}, [], set(), [], [0]
def sc(v):
    idx[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
    for w in graph[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: out.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in graph:
    if v not in idx: sc(v)
# ignore package __init__ re-export edges from parent to child being considered cycles? report all
print("cycles:", out if out else "none")
whoosh = sorted(m for m, p in mods.items() if "whoosh" in p.read_text() and any(
    isinstance(nd,(ast.Import,ast.ImportFrom)) and ("whoosh" in (getattr(nd,'module',None) or '') or any('whoosh' in a.name for a in nd.names)) and not getattr(nd,'level',0)
    for nd in ast.walk(ast.parse(p.read_text()))))
print("import whoosh directly:", whoosh)
