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
def join($x): _join($x);
def from_entries: map({(.key // .name // .Name // .Key):
    (if has("value") then .value else .Value end)}) | add + {} // {};
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def flatten($x): _flatten($x);
def flatten: _flatten(1e300);
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
# A closing event ends a value only once an event has given it a leaf.
def fromstream(f): foreach f as $e ({v: null, done: false, seen: false};
    (if .done then {v: null, done: false, seen: false} else . end)
    | if ($e | length) == 2 then
        if ($e[0] | length) == 0 then {v: $e[1], done: true, seen: true}
        else .v |= setpath($e[0]; $e[1]) | .seen = true end
      else .done = (($e[0] | length) == 1 and .seen) end;
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
# jq 1.6 as built here: the sign of the gamma function beside its log; its list of builtins,
# in the order it prints them.
def lgamma_r: _num | [lgamma, (if tgamma < 0 then -1 else 1 end)];
def builtins: ["input_line_number/0","input_filename/0","now/0","localtime/0","gmtime/0","mktime/0","strflocaltime/1","strftime/1","strptime/1","stderr/0","debug/0","modulemeta/0","get_jq_origin/0","get_prog_origin/0","get_search_list/0","halt_error/1","halt/0","env/0","format/1","error/1","max/0","min/0","sort/0","nan/0","infinite/0","isnormal/0","isnan/0","isinfinite/0","type/0","utf8bytelength/0","length/0","contains/1","has/1","delpaths/1","getpath/1","setpath/2","implode/0","explode/0","split/1","rtrimstr/1","ltrimstr/1","endswith/1","startswith/1","keys_unsorted/0","keys/0","tostring/0","tonumber/0","fromjson/0","tojson/0","lgamma_r/0","modf/0","frexp/0","ldexp/2","trunc/0","significand/0","scalbln/2","scalb/2","round/0","rint/0","nexttoward/2","nextafter/2","nearbyint/0","logb/0","log1p/0","lgamma/0","gamma/0","fmod/2","fmin/2","fmax/2","fma/3","fdim/2","fabs/0","expm1/0","exp10/0","erfc/0","erf/0","drem/2","copysign/2","ceil/0","yn/2","jn/2","y1/0","y0/0","tgamma/0","tanh/0","tan/0","sqrt/0","sinh/0","sin/0","remainder/2","pow/2","log2/0","log10/0","log/0","j1/0","j0/0","hypot/2","floor/0","exp2/0","exp/0","cosh/0","cos/0","cbrt/0","atanh/0","atan2/2","atan/0","asinh/0","asin/0","acosh/0","acos/0","empty/0","not/0","path/1","range/2","halt_error/0","error/0","map/1","select/1","sort_by/1","group_by/1","unique/0","unique_by/1","max_by/1","min_by/1","add/0","del/1","map_values/1","recurse/1","recurse/2","recurse/0","recurse_down/0","to_entries/0","from_entries/0","with_entries/1","reverse/0","indices/1","index/1","rindex/1","paths/0","paths/1","any/2","any/1","any/0","all/2","all/1","all/0","isfinite/0","arrays/0","objects/0","iterables/0","booleans/0","numbers/0","normals/0","finites/0","strings/0","nulls/0","values/0","scalars/0","scalars_or_empty/0","leaf_paths/0","join/1","flatten/1","flatten/0","range/1","fromdateiso8601/0","todateiso8601/0","fromdate/0","todate/0","match/2","match/1","test/2","test/1","capture/2","capture/1","scan/1","splits/2","splits/1","split/2","sub/2","sub/3","gsub/3","gsub/2","range/3","while/2","until/2","limit/2","isempty/1","first/1","last/1","nth/2","first/0","last/0","nth/1","combinations/0","combinations/1","transpose/0","in/1","inside/1","input/0","repeat/1","inputs/0","ascii_downcase/0","ascii_upcase/0","truncate_stream/1","fromstream/1","tostream/0","bsearch/1","walk/1","INDEX/2","INDEX/1","JOIN/2","JOIN/3","JOIN/4","IN/1","IN/2","pow10/0","builtins/0"];
