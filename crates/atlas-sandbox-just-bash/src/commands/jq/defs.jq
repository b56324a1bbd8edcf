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
def significand: if isinfinite or isnan then . elif . == 0 then 0 else scalbln(.; ilogb | -1 * .) end;
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
