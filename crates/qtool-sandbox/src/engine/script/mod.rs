//! The load script: tokens ([`lex`]), statements and the syntax check ([`parse`]), expressions
//! ([`expr`]), and reloads ([`run`]).

pub mod expr;
pub mod lex;
pub mod parse;
pub mod run;

pub use run::dry_run_tables;

/// The `Main` section a new app gets on a QSEoW node with the en-US locale
/// (`Doc.GetEmptyScript`, `Global.CreateApp`): the number, money, date and calendar
/// interpretation variables, as the data load editor writes them.
pub fn default_main_section() -> String {
    [
        "///$tab Main",
        "SET ThousandSep=',';",
        "SET DecimalSep='.';",
        "SET MoneyThousandSep=',';",
        "SET MoneyDecimalSep='.';",
        "SET MoneyFormat='$#,##0.00;-$#,##0.00';",
        "SET TimeFormat='h:mm:ss TT';",
        "SET DateFormat='M/D/YYYY';",
        "SET TimestampFormat='M/D/YYYY h:mm:ss[.fff] TT';",
        "SET FirstWeekDay=6;",
        "SET BrokenWeeks=1;",
        "SET ReferenceDay=0;",
        "SET FirstMonthOfYear=1;",
        "SET CollationLocale='en-US';",
        "SET CreateSearchIndexOnReload=1;",
        "SET MonthNames='Jan;Feb;Mar;Apr;May;Jun;Jul;Aug;Sep;Oct;Nov;Dec';",
        "SET LongMonthNames='January;February;March;April;May;June;July;August;September;October;November;December';",
        "SET DayNames='Mon;Tue;Wed;Thu;Fri;Sat;Sun';",
        "SET LongDayNames='Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday';",
        "SET NumericalAbbreviation='3:k;6:M;9:G;12:T;15:P;18:E;21:Z;24:Y;-3:m;-6:μ;-9:n;-12:p;-15:f;-18:a;-21:z;-24:y';",
        "",
    ]
    .join("\r\n")
}

/// A main section named `name` (the `qLocalizedScriptMainSection` of CreateApp/GetEmptyScript).
pub fn main_section_named(name: &str) -> String {
    let section = if name.trim().is_empty() {
        "Main"
    } else {
        name.trim()
    };
    default_main_section().replacen("///$tab Main", &format!("///$tab {section}"), 1)
}
