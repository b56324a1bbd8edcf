//! `date` and `touch`: formats, date strings, zones and mtimes. Each case is what bash 5.2 with
//! GNU coreutils 9.1 printed under `LC_ALL=C TZ=UTC` (stdout, exit status, stderr), recorded from
//! the real tools; none depends on the current time. Forms the sandbox refuses are checked by
//! name below.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};

/// (script, stdout, exit status, stderr)
const CASES: &[(&str, &str, i32, &str)] = &[
    ("date -d @0", "Thu Jan  1 00:00:00 UTC 1970\n", 0, ""),
    (
        "date -u -d @0 -R",
        "Thu, 01 Jan 1970 00:00:00 +0000\n",
        0,
        "",
    ),
    ("date -d @0 --iso-8601", "1970-01-01\n", 0, ""),
    ("date -d @0 --iso-8601=date", "1970-01-01\n", 0, ""),
    (
        "date -d @0 --iso-8601=hours",
        "1970-01-01T00+00:00\n",
        0,
        "",
    ),
    (
        "date -d @0 --iso-8601=minutes",
        "1970-01-01T00:00+00:00\n",
        0,
        "",
    ),
    (
        "date -d @0 --iso-8601=seconds",
        "1970-01-01T00:00:00+00:00\n",
        0,
        "",
    ),
    (
        "date -d @0 --iso-8601=ns",
        "1970-01-01T00:00:00,000000000+00:00\n",
        0,
        "",
    ),
    ("date -d @0 --rfc-3339=date", "1970-01-01\n", 0, ""),
    (
        "date -d @0 --rfc-3339=seconds",
        "1970-01-01 00:00:00+00:00\n",
        0,
        "",
    ),
    (
        "date -d @0 --rfc-3339=ns",
        "1970-01-01 00:00:00.000000000+00:00\n",
        0,
        "",
    ),
    (
        "date -d @0 +'%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %k %l %m %M %n %N %p %P %q %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %% %Q %E %O'",
        "Thu Thursday Jan January Thu Jan  1 00:00:00 1970 19 01 01/01/70  1 1970-01-01 70 1970 Jan 00 12 001  0 12 01 00 \n 000000000 AM am 1 12:00:00 AM 00:00 0 00 \t 00:00:00 4 00 01 4 00 01/01/70 00:00:00 70 1970 +0000 UTC % %Q %E %O\n",
        0,
        "",
    ),
    ("date -d @1104537600 +'%^u'", "6\n", 0, ""),
    (
        "date -u -d @1104537600 -R",
        "Sat, 01 Jan 2005 00:00:00 +0000\n",
        0,
        "",
    ),
    (
        "date -d @-62135596800 +'x%-^::F-%10h'",
        "x%-^::F-       Jan\n",
        0,
        "",
    ),
    (
        "date -d '2025-03-01 10:00 PM' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 22:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d @253402300799 --iso-8601=ns",
        "9999-12-31T23:59:59,000000000+00:00\n",
        0,
        "",
    ),
    (
        "date -u -d @1.5 -R",
        "Thu, 01 Jan 1970 00:00:01 +0000\n",
        0,
        "",
    ),
    (
        "date -d @ +'%F %T.%N %z %a'; echo $?",
        "1\n",
        0,
        "date: invalid date '@'\n",
    ),
    ("date -d @1.5 +' %14P'", "             am\n", 0, ""),
    (
        "date -d 12/32/2025 +'%F %T.%N %z %a'; echo $?",
        "1\n",
        0,
        "date: invalid date '12/32/2025'\n",
    ),
    (
        "date -d @-1 +-%bx%+_c",
        "-DecxWed Dec 31 23:59:59 1969\n",
        0,
        "",
    ),
    (
        "date -d @-86400 +'%H%%%#: %-ECx%#EP'",
        "00%%#: 19xam\n",
        0,
        "",
    ),
    (
        "date -d @abc +'%F %T.%N %z %a'; echo $?",
        "1\n",
        0,
        "date: invalid date '@abc'\n",
    ),
    (
        "date -d '2025-03-01 next monday' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 00:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d '2025-03-01 10 a.m.' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 10:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d 99-01-01 +'%F %T.%N %z %a'; echo $?",
        "1999-01-01 00:00:00.000000000 +0000 Fri\n0\n",
        0,
        "",
    ),
    (
        "TZ=UTC0 date -d @1700000000 +'%F %T %Z %z %:z %::z %:::z'",
        "2023-11-14 22:13:20 UTC +0000 +00:00 +00:00:00 +00\n",
        0,
        "",
    ),
    (
        "date -d @1230768000 --rfc-3339=ns",
        "2009-01-01 00:00:00.000000000+00:00\n",
        0,
        "",
    ),
    (
        "date -d @-62135596800 +' %+#A %-#Er'",
        " MONDAY 12:00:00 AM\n",
        0,
        "",
    ),
    (
        "date -d @1230768000 +'%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %k %l %m %M %n %N %p %P %q %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %% %Q %E %O'",
        "Thu Thursday Jan January Thu Jan  1 00:00:00 2009 20 01 01/01/09  1 2009-01-01 09 2009 Jan 00 12 001  0 12 01 00 \n 000000000 AM am 1 12:00:00 AM 00:00 1230768000 00 \t 00:00:00 4 00 01 4 00 01/01/09 00:00:00 09 2009 +0000 UTC % %Q %E %O\n",
        0,
        "",
    ),
    (
        "date -d '2025-03-01 -1 mins' +'%F %T.%N %z %a'; echo $?",
        "2025-02-28 23:59:00.000000000 +0000 Fri\n0\n",
        0,
        "",
    ),
    (
        "date -d @951782400 +'-%-0EY-%^1OP %^ODx%^#n'",
        "-2000-am %^ODx\n\n",
        0,
        "",
    ),
    ("date -d @1.5 --iso-8601=date", "1970-01-01\n", 0, ""),
    (
        "date -d @253402300799 --iso-8601=minutes",
        "9999-12-31T23:59+00:00\n",
        0,
        "",
    ),
    ("date -d @1234567890 +-%_:Y%%%-11t", "-%_:Y%\t\n", 0, ""),
    (
        "date -d @951782400 --iso-8601=ns",
        "2000-02-29T00:00:00,000000000+00:00\n",
        0,
        "",
    ),
    ("date -d @0 +x%-0l%_0::A%S", "x12%_0::A00\n", 0, ""),
    (
        "date -d @1700000000.123456789 --iso-8601=ns",
        "2023-11-14T22:13:20,123456789+00:00\n",
        0,
        "",
    ),
    (
        "date -d @1700000000.123456789 +'-%_^7Ek%%%:::w'",
        "- %_^7EK%%:::w\n",
        0,
        "",
    ),
    (
        "date -d '2025-03-01 10:00 am' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 10:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d @86399.000000001 +'x%+:S-%04::V%^+5B%^+4z'",
        "x%+:S-%04::VJANUARY+000\n",
        0,
        "",
    ),
    (
        "date -d 2025-03-01T12:00:00+05:30 +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 06:30:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d @1230768000 +'-%10::Y-%_#9Oyx%:Q%%%D'",
        "-      %10::Y-       09x%:Q%01/01/09\n",
        0,
        "",
    ),
    ("date -d @0 '+%H%'", "00%\n", 0, ""),
    (
        "date -d 2025/03/01 +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 00:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d @1104537600 --iso-8601=minutes",
        "2005-01-01T00:00+00:00\n",
        0,
        "",
    ),
    (
        "date -d @1577836800 +'%-Ohx%#^6:::Hx%B'",
        "Janx %#^6:::HxJanuary\n",
        0,
        "",
    ),
    ("date -d @1577836800 --iso-8601=date", "2020-01-01\n", 0, ""),
    (
        "date -d @951782400",
        "Tue Feb 29 00:00:00 UTC 2000\n",
        0,
        "",
    ),
    (
        "date -d @1104537600 --iso-8601=ns",
        "2005-01-01T00:00:00,000000000+00:00\n",
        0,
        "",
    ),
    (
        "date -d '2025-03-01 GMT' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 00:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    ("date -d @1230768000 +-%6:::W", "-   %6:::W\n", 0, ""),
    (
        "date -d @253402300799 +'%%%_^bx%#12U%%%^#2H%+^%'",
        "%DECx000000000052%23%+^%\n",
        0,
        "",
    ),
    (
        "date -d 'Mar 1 2025' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 00:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "TZ=NPT-5:45 date -d '2025-03-01 12:00' +'%F %T %Z %z'",
        "2025-03-01 12:00:00 NPT +0545\n",
        0,
        "",
    ),
    (
        "date -d '2025-03-01 monday' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 00:00:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d @1700000000.123456789 +'%%%0Eg %_+j %+0W'",
        "%%0Eg 318 46\n",
        0,
        "",
    ),
    (
        "date --universal -d @0",
        "Thu Jan  1 00:00:00 UTC 1970\n",
        0,
        "",
    ),
    ("date -d @1700000000.123456789 +' %0+Z'", " UTC\n", 0, ""),
    (
        "date -d @+5 +'%F %T.%N %z %a'; echo $?",
        "1970-01-01 00:00:05.000000000 +0000 Thu\n0\n",
        0,
        "",
    ),
    (
        "TZ='<+0530>-5:30' date -u -d @0",
        "Thu Jan  1 00:00:00 UTC 1970\n",
        0,
        "",
    ),
    (
        "date -d @1234567890 +' %#X%4Ok%%%+0Xx%#:E'",
        " 23:31:30  23%23:31:30x%#:E\n",
        0,
        "",
    ),
    (
        "date -d @1700000000.123456789 --iso-8601=minutes",
        "2023-11-14T22:13+00:00\n",
        0,
        "",
    ),
    ("date -d @1104537600 +'x%y %-EX'", "x05 00:00:00\n", 0, ""),
    (
        "date -d @-62135596800 +-%8:zx%-+Eh",
        "-+0000:00x%-+Eh\n",
        0,
        "",
    ),
    ("date -d @86399.000000001 +' %^#:::C'", " %^#:::C\n", 0, ""),
    (
        "date -d '2025-03-01 10:00 2 days ago' +'%F %T.%N %z %a'; echo $?",
        "2025-02-27 10:00:00.000000000 +0000 Thu\n0\n",
        0,
        "",
    ),
    ("date -d @0 +", "\n", 0, ""),
    (
        "echo hi > f; touch -d '2025-03-01 12:00' f; date -r f",
        "Sat Mar  1 12:00:00 UTC 2025\n",
        0,
        "",
    ),
    (
        "date -d @1577836800 --rfc-3339=ns",
        "2020-01-01 00:00:00.000000000+00:00\n",
        0,
        "",
    ),
    (
        "date -d @1230768000 +' %0-H%#::d %#-10Z'",
        " 0%#::d utc\n",
        0,
        "",
    ),
    ("date -d @951782400 +-%0m", "-02\n", 0, ""),
    ("date -d @951782400 +' %#D'", " 02/29/00\n", 0, ""),
    (
        "date -d @86399.000000001 --iso-8601=ns",
        "1970-01-01T23:59:59,000000001+00:00\n",
        0,
        "",
    ),
    (
        "date -d @253402300799 --iso-8601=hours",
        "9999-12-31T23+00:00\n",
        0,
        "",
    ),
    (
        "date -d '1969-12-31 23:59:59 +0000' +'%F %T.%N %z %a'; echo $?",
        "1969-12-31 23:59:59.000000000 +0000 Wed\n0\n",
        0,
        "",
    ),
    (
        "date -d '2025-03-01 +90 minutes' +'%F %T.%N %z %a'; echo $?",
        "2025-03-01 01:30:00.000000000 +0000 Sat\n0\n",
        0,
        "",
    ),
    (
        "date -d @1609459199 --iso-8601=seconds",
        "2020-12-31T23:59:59+00:00\n",
        0,
        "",
    ),
    ("date -d @1230768000 +'%%%5ES %::t'", "% %5ES %::t\n", 0, ""),
    (
        "date -d @253402300799 --rfc-3339=date",
        "9999-12-31\n",
        0,
        "",
    ),
    (
        "touch -d @1700000000 f g; stat -c '%n %Y' f g",
        "f 1700000000\ng 1700000000\n",
        0,
        "",
    ),
    (
        "touch -t 202503011200 f; stat -c %Y f",
        "1740830400\n",
        0,
        "",
    ),
    (
        "touch -t 202503011200.30 f; stat -c %Y f",
        "1740830430\n",
        0,
        "",
    ),
    ("touch -t 2503011200 f; stat -c %Y f", "1740830400\n", 0, ""),
    ("touch -t 9903011200 f; stat -c %Y f", "920289600\n", 0, ""),
    (
        "touch -t 2513011200 f; echo $?",
        "1\n",
        0,
        "touch: invalid date format '2513011200'\n",
    ),
    (
        "touch -t 1234 f; echo $?",
        "1\n",
        0,
        "touch: invalid date format '1234'\n",
    ),
    (
        "touch -t 202503011260 f; echo $?",
        "1\n",
        0,
        "touch: invalid date format '202503011260'\n",
    ),
    (
        "touch -t 202502301200 f; echo $?",
        "1\n",
        0,
        "touch: invalid date format '202502301200'\n",
    ),
    (
        "touch -t 202503011200.5 f; echo $?",
        "1\n",
        0,
        "touch: invalid date format '202503011200.5'\n",
    ),
    (
        "touch -d xx f; echo $?; ls",
        "1\n",
        0,
        "touch: invalid date format 'xx'\n",
    ),
    (
        "touch -d 'not a date' f; echo $?",
        "1\n",
        0,
        "touch: invalid date format 'not a date'\n",
    ),
    (
        "touch -d @5 -t 202501010000 f; echo $?",
        "1\n",
        0,
        "touch: cannot specify times from more than one source\nTry 'touch --help' for more information.\n",
    ),
    (
        "touch -d '2025-03-01' a; touch -r a b; stat -c '%n %Y' a b",
        "a 1740787200\nb 1740787200\n",
        0,
        "",
    ),
    (
        "touch -r nope h; echo $?; ls",
        "1\n",
        0,
        "touch: failed to get attributes of 'nope': No such file or directory\n",
    ),
    ("touch -c -d @7 nope2; echo $?; ls", "0\n", 0, ""),
    ("touch -c nope3; echo $?; ls", "0\n", 0, ""),
    (
        "touch -m -d '2025-03-01T10:00:00Z' f; stat -c %Y f",
        "1740823200\n",
        0,
        "",
    ),
    ("touch -a -d '2025-03-01' f; ls f", "f\n", 0, ""),
    (
        "touch -d '2025-03-01 12:00:00 +0100' f; stat -c %Y f",
        "1740826800\n",
        0,
        "",
    ),
    (
        "touch -d '2025-01-31 +1 month' f; stat -c %Y f",
        "1740960000\n",
        0,
        "",
    ),
    (
        "touch -d 'Mar 1 2025 10am' f; stat -c %Y f",
        "1740823200\n",
        0,
        "",
    ),
    (
        "touch -d '2025-03-01' d/x e/y; echo $?",
        "1\n",
        0,
        "touch: cannot touch 'd/x': No such file or directory\ntouch: cannot touch 'e/y': No such file or directory\n",
    ),
    (
        "touch; echo $?",
        "1\n",
        0,
        "touch: missing file operand\nTry 'touch --help' for more information.\n",
    ),
    ("touch --time=mtime -d @100 f; stat -c %Y f", "100\n", 0, ""),
    (
        "touch --time=foo f; echo $?",
        "1\n",
        0,
        "touch: invalid argument 'foo' for '--time'\nValid arguments are:\n  - 'atime', 'access', 'use'\n  - 'mtime', 'modify'\nTry 'touch --help' for more information.\n",
    ),
    (
        "touch -d '2025-03-01' f; find . -newer f -name f; touch -d '2025-03-02' g; find . -newer f -type f",
        "./g\n",
        0,
        "",
    ),
    (
        "touch -d '2025-03-01' a; touch -d '2025-03-03' b; touch -d '2025-03-02' c; ls -t; ls -tr",
        "b\nc\na\na\nc\nb\n",
        0,
        "",
    ),
    (
        "touch -d @1700000000 f; date -r f; date -r f +%s",
        "Tue Nov 14 22:13:20 UTC 2023\n1700000000\n",
        0,
        "",
    ),
    ("touch -t 197001010000 f; stat -c %Y f", "0\n", 0, ""),
    (
        "TZ=UTC+3 touch -t 202503011200 f; stat -c %Y f",
        "1740841200\n",
        0,
        "",
    ),
];

fn run(script: &str) -> (String, i32, String) {
    // A fresh engine per case: each writes its own files.
    let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
    let out = engine
        .exec_script(script, "", Duration::from_secs(10), 1 << 20)
        .unwrap();
    (
        out.stdout_str().into_owned(),
        out.exit_code,
        out.stderr_str().into_owned(),
    )
}

#[test]
fn date_and_touch_match_gnu() {
    let mut failures = Vec::new();
    for (script, stdout, status, stderr) in CASES {
        let (o, st, e) = run(script);
        if o != *stdout || st != *status || e != *stderr {
            failures.push(format!(
                "{script}\n  got {o:?} {st} {e:?}\n  gnu {stdout:?} {status} {stderr:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unreadable_forms_and_zones_are_refused_by_name() {
    for script in [
        "TZ=Europe/Paris date -d @0",
        "date -d '2025-03-01 (comment)'",
        "date -d 2025",
        "date -s 2020-01-01",
        "date 0101000020",
        "date --debug",
        "touch -d '2025-03-01 12:00:00.5' f",
        "touch -h f",
        "ln -s a b",
    ] {
        let (_, st, e) = run(script);
        assert_eq!(st, 2, "{script}: {e}");
        assert!(e.contains("not supported by this sandbox"), "{script}: {e}");
    }
}

#[test]
fn relative_dates_follow_the_clock() {
    // `now` moves; the same instant read two ways must agree.
    let (o, st, _) =
        run("a=$(date -d '1 day ago' +%s); b=$(date -d yesterday +%s); echo $(( b - a < 5 ))");
    assert_eq!((o.as_str(), st), ("1\n", 0));
    let (o, _, _) =
        run("date -d 'next monday' +%u; date -d 'last friday' +%u; date -d tomorrow +%T");
    assert!(o.starts_with("1\n5\n"), "{o}");
}

/// `id` answers for the sandbox's one user, the owner `ls -l`, `stat` and `whoami` show; its
/// errors are GNU's.
#[test]
fn id_agrees_with_ls_stat_and_whoami() {
    let (out, st, _) = run(
        "touch /tmp/f; [ \"$(id -un)\" = \"$(whoami)\" ] && [ \"$(id -u)\" = \"$(stat -c %u /tmp/f)\" ] && [ \"$(id -gn)\" = \"$(stat -c %G /tmp/f)\" ] && id",
    );
    assert_eq!(
        (out.as_str(), st),
        ("uid=1000(user) gid=1000(user) groups=1000(user)\n", 0)
    );
    for (script, stderr) in [
        (
            "id -n",
            "id: cannot print only names or real IDs in default format\n",
        ),
        (
            "id -ug",
            "id: cannot print \"only\" of more than one choice\n",
        ),
        ("id nosuch", "id: 'nosuch': no such user\n"),
    ] {
        let (out, st, err) = run(script);
        assert_eq!(
            (out.as_str(), st, err.as_str()),
            ("", 1, stderr),
            "{script}"
        );
    }
}
