"""The record pages' one style sheet, and the Content-Security-Policy that allows it by hash.

Mobile first (one column, controls 48 px high for a finger, no sideways scrolling at 320 px),
colours with a contrast of at least 4.5:1 on their background, a visible focus ring. The
sheet is inline (no second request, nothing to cache) and allowed by its SHA-256, so the
policy needs no ``'unsafe-inline'`` and allows no script at all.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

__all__ = ["CONTENT_SECURITY_POLICY", "CSS"]

CSS: Final = """
*,*::before,*::after{box-sizing:border-box}
html{font-family:"Noto Sans","DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,Arial,
sans-serif;font-size:100%;line-height:1.5;color:#0b0c0c;background:#fff;-webkit-text-size-adjust:100%}
body{margin:0}
a{color:#1d4f91;text-decoration-thickness:max(1px,.0625rem);text-underline-offset:.15em}
a:hover{color:#003078;text-decoration-thickness:3px}
a:focus,button:focus,input:focus,[tabindex]:focus{outline:3px solid #ffbf47;outline-offset:0;
box-shadow:0 0 0 6px #0b0c0c}
.visually-hidden{position:absolute!important;width:1px;height:1px;margin:0;padding:0;
overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);border:0;white-space:nowrap}
.skip{position:absolute;left:-9999px;top:0;padding:.75rem 1rem;background:#ffbf47;color:#0b0c0c}
.skip:focus{left:0;z-index:10}
header{background:#0b3a6f;color:#fff;padding:.75rem 1rem}
header .brand{margin:0;font-weight:700;font-size:1.125rem}
header nav ul{list-style:none;margin:.5rem 0 0;padding:0;display:flex;flex-wrap:wrap;
gap:.25rem 1rem}
header nav a,header nav button{color:#fff;display:inline-block;min-height:48px;padding:.75rem 0;
font-size:1rem}
header nav button{background:none;border:0;text-decoration:underline;cursor:pointer;
font-family:inherit;margin:0}
header nav form{margin:0}
main{display:block;max-width:46rem;margin:0 auto;padding:1rem 1rem 2rem}
main:focus{outline:none;box-shadow:none}
h1{font-size:1.75rem;line-height:1.2;margin:.75rem 0 1rem}
h2{font-size:1.375rem;margin:1.75rem 0 .75rem}
h3{font-size:1.125rem;margin:1.25rem 0 .5rem}
.field{margin:0 0 1.5rem}
label,.label{display:block;font-weight:700;margin-bottom:.25rem}
.hint{color:#484949;margin:0 0 .5rem}
input[type=text],input[type=date],input[type=file]{display:block;width:100%;max-width:24rem;
min-height:48px;font-size:1.125rem;padding:.5rem;border:2px solid #0b0c0c;border-radius:0;
background:#fff;color:#0b0c0c}
input[type=file]{max-width:100%}
.field-error input{border-color:#b10e1e;border-width:4px}
.error-message{color:#b10e1e;font-weight:700;margin:0 0 .5rem}
button,.button{display:inline-block;min-height:48px;min-width:48px;padding:.625rem 1.25rem;
font-size:1.125rem;font-weight:700;font-family:inherit;color:#fff;background:#00703c;border:0;
border-bottom:3px solid #002d18;cursor:pointer;text-align:center;text-decoration:none}
button.secondary{background:#f3f2f1;color:#0b0c0c;border-bottom-color:#929191}
button:hover{background:#005a30}
button.secondary:hover{background:#dbdad9}
.actions{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:1.5rem 0}
.actions form{margin:0}
.error-summary{border:5px solid #b10e1e;padding:1rem;margin:0 0 1.5rem}
.error-summary h2{margin-top:0}
.error-summary a{color:#b10e1e;font-weight:700}
.notice{border-left:10px solid #1d70b8;background:#f3f2f1;padding:1rem;margin:0 0 1.5rem}
.notice.bad{border-left-color:#b10e1e}
.verdict{border:5px solid #0b0c0c;padding:1rem;margin:0 0 1.5rem}
.verdict p{margin:.25rem 0}
.verdict .verdict-line{font-size:1.375rem;font-weight:700}
.verdict.good{border-color:#00703c}
.verdict.good .verdict-line{color:#00703c}
.verdict.warn{border-color:#8a4b00}
.verdict.warn .verdict-line{color:#8a4b00}
.verdict.bad{border-color:#b10e1e}
.verdict.bad .verdict-line{color:#b10e1e}
.student{font-size:1.375rem;font-weight:700;margin:0 0 1rem}
dl.facts{display:grid;grid-template-columns:minmax(8rem,auto) 1fr;gap:.25rem 1rem;margin:0 0 1rem}
dl.facts dt{font-weight:700}
dl.facts dd{margin:0}
ol.timeline{list-style:none;margin:0 0 1rem;padding:0;border-left:4px solid #b1b4b6}
ol.timeline>li{position:relative;margin:0 0 .75rem;padding:.25rem 0 .25rem 1.25rem}
ol.timeline>li::before{content:"";position:absolute;left:-12px;top:.55rem;width:20px;height:20px;
border-radius:50%;background:#fff;border:4px solid #b1b4b6}
ol.timeline>li.done::before{background:#00703c;border-color:#00703c}
ol.timeline>li.broken::before{background:#b10e1e;border-color:#b10e1e}
.role{font-weight:700}
.status-ok{color:#00703c;font-weight:700}
.status-bad{color:#b10e1e;font-weight:700}
.status-warn{color:#8a4b00;font-weight:700}
table{border-collapse:collapse;width:100%;margin:0 0 1rem}
th,td{text-align:left;vertical-align:top;padding:.5rem .5rem .5rem 0;
border-bottom:1px solid #b1b4b6}
section.year{border-top:2px solid #0b0c0c;margin-top:1.5rem}
footer{border-top:1px solid #b1b4b6;padding:1rem;color:#484949;max-width:46rem;margin:0 auto;
font-size:.9375rem}
@media (max-width:30rem){
h1{font-size:1.5rem}
dl.facts{grid-template-columns:1fr}
dl.facts dd{margin-bottom:.5rem}
.actions{flex-direction:column;align-items:stretch}
.actions button{width:100%}
table,thead,tbody,tr,th,td{display:block}
thead{position:absolute;left:-9999px}
td{border:0;padding:.125rem 0}
tr{border-bottom:1px solid #b1b4b6;padding:.5rem 0}
}
""".strip()

_CSS_HASH: Final = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()

#: No script of any kind, the one inline style sheet (by its hash), forms posted only here,
#: never framed. ``img-src data:`` is for nothing today; kept closed (``'none'``).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; "
    f"style-src 'sha256-{_CSS_HASH}'; "
    "img-src 'none'; "
    "form-action 'self'; "
    "base-uri 'none'; "
    "frame-ancestors 'none'"
)
