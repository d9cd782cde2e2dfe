"""The static HTML page of the user study (paper §4.3, Table 2): one self-contained file, no server, no network.

Each pair shows two videos side by side, "Video A" (left) and "Video B" (right), looping, and asks "Which video
looks more realistic?" with the answers A / B / similar. Which method is on which side is decided at random per
pair by `cmmnet study make` and kept in ``key.json`` only, never in the page. Answers are kept in the browser's
localStorage while the rater works (a reload keeps them and the rater's name) and saved as a JSON file with the
"Download answers" button:
``{"study": ID, "rater": NAME, "answers": [{"pair": "p001", "choice": "A" | "B" | "similar"}, ...]}``.
"""

from __future__ import annotations

import html
import json

QUESTION = "Which video looks more realistic?"
CHOICES = ("A", "B", "similar")

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Video realism study</title>
<style>
body { font-family: sans-serif; max-width: 760px; margin: 1em auto; color: #222; }
.pair { border: 1px solid #ccc; border-radius: 6px; padding: 0.8em; margin: 1em 0; }
.pair.done { border-color: #4a4; background: #f4fff4; }
.videos { display: flex; gap: 1.5em; justify-content: center; }
figure { margin: 0; text-align: center; }
video { width: 256px; height: 256px; image-rendering: pixelated; background: #000; }
.choices { text-align: center; margin-top: 0.5em; }
.choices label { margin: 0 0.8em; cursor: pointer; }
#bar { position: sticky; bottom: 0; background: #fff; padding: 0.6em 0; border-top: 1px solid #ccc; }
</style>
</head>
<body>
<h1>Which video looks more realistic?</h1>
<p>For each pair, watch both videos and choose the one that looks more realistic, or "similar" if you cannot
tell them apart. When you are done, press <b>Download answers</b> and send the downloaded file back.</p>
<p><label>Your name or id: <input id="rater" type="text" size="24"></label></p>
__PAIRS__
<div id="bar">
<span id="progress"></span>
<button id="download" type="button">Download answers</button>
</div>
<script>
const STUDY = __STUDY__;
const PAIRS = __PAIR_IDS__;
const STORE = "cmmnet-study-" + STUDY;
function load() { try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; } }
function save(a) { try { localStorage.setItem(STORE, JSON.stringify(a)); } catch (e) { /* private mode */ } }
let answers = load();
function refresh() {
  let n = 0;
  for (const p of PAIRS) {
    const box = document.getElementById(p);
    const done = Object.prototype.hasOwnProperty.call(answers, p);
    box.classList.toggle("done", done);
    if (done) { n++; const r = box.querySelector('input[value="' + answers[p] + '"]'); if (r) r.checked = true; }
  }
  document.getElementById("progress").textContent = n + " of " + PAIRS.length + " pairs answered ";
}
document.querySelectorAll('.choices input').forEach(function (r) {
  r.addEventListener("change", function () { answers[r.name] = r.value; save(answers); refresh(); });
});
const raterBox = document.getElementById("rater");
try { raterBox.value = localStorage.getItem(STORE + "-rater") || ""; } catch (e) { /* private mode */ }
raterBox.addEventListener("input", function () {
  try { localStorage.setItem(STORE + "-rater", raterBox.value); } catch (e) { /* private mode */ }
});
document.getElementById("download").addEventListener("click", function () {
  const rater = document.getElementById("rater").value.trim();
  const data = {study: STUDY, rater: rater, saved: new Date().toISOString(),
                answers: PAIRS.filter(function (p) { return p in answers; })
                              .map(function (p) { return {pair: p, choice: answers[p]}; })};
  const blob = new Blob([JSON.stringify(data, null, 1)], {type: "application/json"});
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "answers-" + STUDY + (rater ? "-" + rater.replace(/[^A-Za-z0-9_-]/g, "_") : "") + ".json";
  document.body.appendChild(a); a.click(); a.remove();
});
refresh();
</script>
</body>
</html>
"""

_PAIR = """<div class="pair" id="{pid}">
<div class="videos">
<figure><video src="{a}" autoplay loop muted playsinline></video><figcaption>Video A</figcaption></figure>
<figure><video src="{b}" autoplay loop muted playsinline></video><figcaption>Video B</figcaption></figure>
</div>
<div class="choices">{n}. {q}
{radios}
</div>
</div>"""


def render_page(study_id: str, pairs: list[tuple[str, str, str]]) -> str:
    """The page for ``pairs`` = [(pair id, video shown as A (relative path), video shown as B)]."""
    blocks = []
    for n, (pid, a, b) in enumerate(pairs, 1):
        radios = "\n".join(f'<label><input type="radio" name="{pid}" value="{c}"> {c}</label>' for c in CHOICES)
        blocks.append(_PAIR.format(pid=html.escape(pid), a=html.escape(a), b=html.escape(b), n=n,
                                   q=html.escape(QUESTION), radios=radios))
    return (_TEMPLATE.replace("__PAIRS__", "\n".join(blocks))
            .replace("__STUDY__", json.dumps(study_id))
            .replace("__PAIR_IDS__", json.dumps([p for p, _, _ in pairs])))
