# jq 1.6's definitions where jaq-std's answer differently; they come after jaq-std's, so they
# shadow them. A definition sees only those before it, so the wrappers of natives come first.
def nan: _nan;
def infinite: _infinite;
def isnan: _isnan;
def isinfinite: _isinfinite;
def isnormal: _isnormal;
# jaq-std's own definitions of these reach its `infinite` (`1 / 0`, an error here): jq's answers.
def isfinite: type == "number" and (isinfinite | not);
def logb: if . == 0 then -infinite elif isinfinite then infinite elif isnan then . else ilogb + 0.0 end;
def significand: if isinfinite or isnan then . elif . == 0 then . else scalbln(.; ilogb | -1 * .) end;
def type: _type;
def setpath($p; $x): _setpath($p; $x);
def delpaths($ps): _delpaths($ps);
def error: if . == null then empty else error_empty as $x | . end;
def error(msgs): msgs as $m | if $m == null then empty else ($m | error_empty) as $x | . end;
def limit($n; f): if $n < 0 then f
  else label $out | foreach f as $item (0; . + 1; $item, if . >= $n then break $out else empty end) end;
def join($x): reduce .[] as $i (null;
    (if . == null then "" else . + $x end)
    + ($i | if . == null then "" elif type == "boolean" or type == "number" then tojson else . end)
  ) // "";
def from_entries: map({(.key // .name // .Name // .Key):
    (if has("value") then .value else .Value end)}) | add + {} // {};
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def _flatten($x): reduce .[] as $i ([];
  if $i | type == "array" and $x != 0 then . + ($i | _flatten($x - 1)) else . + [$i] end);
def flatten($x): if $x < 0 then error("flatten depth must not be negative") else _flatten($x) end;
def flatten: _flatten(-1);
def del(f): delpaths([path(f)]);
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def todate: todateiso8601;
def in(xs): . as $x | xs | has($x);
def inside(xs): . as $x | xs | contains($x);
def index($i): indices($i) | .[0];
def rindex($i): indices($i) | .[-1:][0];
def transpose: if . == [] then [] else . as $in | (map(length) | max) as $max
  | [range(0; $max) as $j | [range(0; $in | length) as $i | $in[$i][$j]]] end;
def tostring: if type == "string" then . else tojson end;
def @text: tostring;
def @json: tojson;
def @html: tostring | escape_html;
def @uri: tostring | encode_uri;
def @base64: tostring | encode_base64;
def @base64d: tostring | decode_base64;
def halt_error($exit_code): _halt_error_text, halt($exit_code);
def halt_error: halt_error(5);
# jq 1.6's: an object (or any non-array) input is an error, where jaq-std's runs on its values.
def combinations: if length == 0 then [] else .[0][] as $x | (.[1:] | combinations) as $w | [$x] + $w end;
def combinations(n): . as $dot | [range(n)] | map($dot) | combinations;
# jq 1.6 builtins jaq lacks, written here (jq_bound bounds each by name).
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def INDEX(stream; f): reduce stream as $row ({}; .[$row | f | tostring] = $row);
def INDEX(f): INDEX(.[]; f);
def JOIN($idx; f): [.[] | [., $idx[f]]];
def JOIN($idx; stream; f): stream | [., $idx[f]];
def JOIN($idx; stream; f; g): stream | [., $idx[f]] | g;
def leaf_paths: paths(scalars);
def scalars_or_empty: select((type != "array" and type != "object") or length == 0);
def recurse_down: recurse;
def get_search_list: ["~/.jq", "$ORIGIN/../lib/jq", "$ORIGIN/lib"];
def format($f): if $f == "text" then @text elif $f == "json" then @json elif $f == "csv" then @csv
  elif $f == "tsv" then @tsv elif $f == "html" then @html elif $f == "uri" then @uri
  elif $f == "sh" then @sh elif $f == "base64" then @base64 elif $f == "base64d" then @base64d
  else error("\($f) is not a valid format") end;
# Events in jq's order: each leaf (or empty container) as [path, value], and after the last
# child of a non-empty container, [path to that child].
def tostream:
  def _events($p): if (type == "array" or type == "object") and length > 0
    then (keys_unsorted as $ks | ($ks[] as $k | .[$k] | _events($p + [$k])), [$p + [$ks[-1]]])
    else [$p, .] end;
  _events([]);
def fromstream(f): foreach f as $e ({v: null, done: false};
    (if .done then {v: null, done: false} else . end)
    | if ($e | length) == 2 then
        if ($e[0] | length) == 0 then {v: $e[1], done: true} else .v |= setpath($e[0]; $e[1]) end
      else .done = (($e[0] | length) == 1) end;
    if .done then .v else empty end);
def truncate_stream(stream): . as $n | null | stream | select((.[0] | length) > $n) | .[0] |= .[$n:];
def bsearch($t): . as $a
  | def _bs($lo; $hi): if $lo > $hi then -1 - $lo
      else (($lo + $hi) / 2 | floor) as $m
        | if $a[$m] == $t then $m elif $a[$m] < $t then _bs($m + 1; $hi) else _bs($lo; $m - 1) end
      end;
    _bs(0; length - 1);
# jq 1.6's `last(f)` is null when f yields nothing; `nth` is the last of the first n + 1.
def last(f): reduce f as $x (null; $x);
def nth($n; f): if $n < 0 then error("nth doesn't support negative indices")
  else last(limit($n + 1; f)) end;
# jq 1.6 names what is not a string before any regex work; jaq-std's filters (bound to the
# names below before they are shadowed) do the matching.
def _rx: if type == "string" then . else error("\(_described) cannot be matched, as it is not a string") end;
def _jaq_test(re; flags): test(re; flags);
def _jaq_match(re; flags): match(re; flags);
def _jaq_capture(re; flags): capture(re; flags);
def _jaq_scan(re; flags): scan(re; flags);
def _jaq_split(re; flags): split(re; flags);
def _jaq_sub(re; f; flags): sub(re; f; flags);
def test(re; flags): _rx | _jaq_test(re; flags);
def test(re): test(re; "");
def match(re; flags): _rx | _jaq_match(re; flags);
def match(re): match(re; "");
def capture(re; flags): _rx | _jaq_capture(re; flags);
def capture(re): capture(re; "");
def scan(re; flags): _rx | _jaq_scan(re; flags);
def scan(re): scan(re; "");
def split(re; flags): _rx | _jaq_split(re; flags);
def splits(re; flags): split(re; flags)[];
def splits(re): splits(re; "");
def sub(re; f; flags): _rx | _jaq_sub(re; f; flags);
def sub(re; f): sub(re; f; "");
def gsub(re; f; flags): sub(re; f; "g" + flags);
def gsub(re; f): sub(re; f; "g");
# jq 1.6's `gamma` is the C library's: the log of the gamma function. Its `pow10` was left out
# of the build.
def gamma: lgamma;
def pow10: error("Error: pow10/0 not found at build time");
# jaq-std's remaining one-number functions, with jq 1.6's message for what is not a number.
def _num: if type == "number" then . else error("\(_described) number required") end;
def _jaq_acosh: acosh;
def _jaq_asinh: asinh;
def _jaq_atanh: atanh;
def _jaq_erf: erf;
def _jaq_erfc: erfc;
def _jaq_exp10: exp10;
def _jaq_j0: j0;
def _jaq_j1: j1;
def _jaq_lgamma: lgamma;
def _jaq_tgamma: tgamma;
def _jaq_y0: y0;
def _jaq_y1: y1;
def _jaq_frexp: frexp;
def _jaq_modf: modf;
def _jaq_cbrt: cbrt;
def _jaq_significand: significand;
def _jaq_logb: logb;
def acosh: _num | _jaq_acosh;
def asinh: _num | _jaq_asinh;
def atanh: _num | _jaq_atanh;
def erf: _num | _jaq_erf;
def erfc: _num | _jaq_erfc;
def exp10: _num | _jaq_exp10;
def j0: _num | _jaq_j0;
def j1: _num | _jaq_j1;
def lgamma: _num | _jaq_lgamma;
def tgamma: _num | _jaq_tgamma;
def y0: _num | _jaq_y0;
def y1: _num | _jaq_y1;
def frexp: _num | _jaq_frexp;
def modf: _num | _jaq_modf;
def cbrt: _num | _jaq_cbrt;
def significand: _num | _jaq_significand;
def logb: _num | _jaq_logb;
def gamma: lgamma;
