//! A reload, worked out statement by statement: control flow (IF, FOR, FOR EACH, DO/LOOP, SUB/
//! CALL, SWITCH, EXIT), variables (SET/LET, dollar-sign expansion before each statement, as the
//! engine does), and the data model: tables named by labels or sources, automatic concatenation
//! of tables with the same fields, CONCATENATE/JOIN/KEEP/MAPPING/NOCONCATENATE prefixes, DROP,
//! RENAME, STORE, preceding LOADs, partial reloads (ADD/REPLACE/MERGE). The sandbox holds no
//! data values: INLINE and AUTOGENERATE give their real row counts, RESIDENT the count of the
//! table read, and files and SQL a count derived from their source text.
//!
//! A reload fails, as the engine's does, on a statement that does not parse, a connection that
//! does not exist (LIB CONNECT TO, `lib://` paths), a path that is not `lib://` (QSEoW's standard
//! mode), SQL without a connection, a missing table (RESIDENT, DROP, RENAME, STORE,
//! CONCATENATE), or a bad AUTOGENERATE count; `SET ErrorMode=0` makes it log and go on.
//!
//! The outcome is a plan: the progress lines with how long each step takes, and the result. The
//! reload task plays the plan back so `GetProgress` sees it unfold.

use std::collections::HashMap;

use super::expr::{self, Scope, Val};
use super::parse::{self, Body, Load, Script, Source, Statement, SyntaxError};
use crate::engine::qvf::{DataModel, Table};
use crate::engine::spec::{Progress, ReloadError};

/// What a reload can see outside the script.
pub struct Environment<'a> {
    /// Whether a data connection with this name exists (case-insensitive).
    pub connection_exists: &'a dyn Fn(&str) -> bool,
    /// Variables defined in the app before the reload (name, definition).
    pub variables: Vec<(String, String)>,
    /// The data model before the reload (kept by a partial reload).
    pub previous: DataModel,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// A line for the persistent log, with its message code and parameter.
    pub line: Option<(Progress, String)>,
    /// The transient line shown while the step runs.
    pub transient: Option<(Progress, String)>,
    pub millis: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: Option<ReloadError>,
    pub message: String,
    /// The statement that failed, as executed (after dollar-sign expansion).
    pub statement: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub success: bool,
    pub tables: Vec<Table>,
    /// Variables the script set, in the order first set (name, value).
    pub variables: Vec<(String, String)>,
    pub failure: Option<Failure>,
    /// Errors passed over with `ErrorMode=0`.
    pub skipped_errors: Vec<Failure>,
    pub loaded_rows: u64,
    pub stored_rows: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub outcome: Outcome,
}

/// Most statements one reload executes (loops cannot run forever).
const MAX_STEPS: usize = 100_000;

pub fn run(script: &str, env: &Environment<'_>) -> Plan {
    let parsed = parse::parse_script(script);
    let mut r = Runner::new(script, &parsed, env);
    r.step(Progress::Text, "Started loading data", 5);
    let failure = if let Some(e) = parsed
        .errors
        .iter()
        .find(|e| e.code == ReloadError::ControlStatementMismatch)
    {
        Some(r.failure_of(e, &script[e.span.clone()]))
    } else {
        r.execute()
    };
    r.finish(failure)
}

/// The tables a script produces when everything it needs exists (for seeded apps).
pub fn dry_run_tables(script: &str, connections: &[&str]) -> DataModel {
    let exists = |name: &str| connections.iter().any(|c| c.eq_ignore_ascii_case(name));
    let env = Environment {
        connection_exists: &exists,
        variables: Vec::new(),
        previous: DataModel::default(),
        partial: false,
    };
    DataModel {
        last_reload_time: None,
        tables: run(script, &env).outcome.tables,
    }
}

struct TableState {
    table: Table,
    mapping: bool,
}

struct Runner<'a> {
    script: &'a str,
    statements: Vec<Statement>,
    env: &'a Environment<'a>,
    steps: Vec<Step>,
    tables: Vec<TableState>,
    variables: HashMap<String, String>,
    set_order: Vec<String>,
    connected: Option<String>,
    skipped: Vec<Failure>,
    loaded_rows: u64,
    stored_rows: u64,
    /// Preceding loads waiting for the statement that feeds them (outermost first).
    preceding: Vec<(Option<String>, Load)>,
    jumps: Jumps,
}

#[derive(Default)]
struct Jumps {
    /// For IF/ELSEIF/ELSE: the next branch or END IF. For SUB: its END SUB. For FOR: its NEXT.
    /// For DO: its LOOP. For SWITCH: its END SWITCH. For CASE/DEFAULT: the next one or END SWITCH.
    forward: HashMap<usize, usize>,
    /// For NEXT/LOOP/END SUB/END IF...: the opening statement.
    back: HashMap<usize, usize>,
    subs: HashMap<String, usize>,
}

enum Flow {
    Next,
    Jump(usize),
    Stop,
}

impl<'a> Runner<'a> {
    fn new(script: &'a str, parsed: &Script, env: &'a Environment<'a>) -> Runner<'a> {
        let statements = parsed.statements.clone();
        let jumps = jumps(&statements);
        let mut variables = HashMap::new();
        for (name, def) in &env.variables {
            variables.insert(name.clone(), def.clone());
        }
        let tables = if env.partial {
            env.previous
                .tables
                .iter()
                .map(|t| TableState {
                    table: t.clone(),
                    mapping: false,
                })
                .collect()
        } else {
            Vec::new()
        };
        Runner {
            script,
            statements,
            env,
            steps: Vec::new(),
            tables,
            variables,
            set_order: Vec::new(),
            connected: None,
            skipped: Vec::new(),
            loaded_rows: 0,
            stored_rows: 0,
            preceding: Vec::new(),
            jumps,
        }
    }

    fn step(&mut self, code: Progress, arg: &str, millis: u64) {
        self.steps.push(Step {
            line: Some((code, arg.to_string())),
            transient: None,
            millis,
        });
    }

    fn failure_of(&self, e: &SyntaxError, statement: &str) -> Failure {
        Failure {
            code: Some(e.code),
            message: e.message(),
            statement: statement.trim().to_string(),
        }
    }

    fn fail(&self, code: ReloadError, arg: &str, statement: &str) -> Failure {
        Failure {
            code: Some(code),
            message: code.text(arg),
            statement: statement.trim().to_string(),
        }
    }

    fn error_mode_continue(&self) -> bool {
        self.variables
            .get("ErrorMode")
            .is_some_and(|v| v.trim() == "0")
    }

    /// Run the statements; `Some` is the error that ended the reload.
    fn execute(&mut self) -> Option<Failure> {
        let mut pc = 0;
        let mut calls: Vec<usize> = Vec::new();
        let mut loops: HashMap<usize, LoopState> = HashMap::new();
        let mut executed = 0usize;
        while pc < self.statements.len() {
            executed += 1;
            if executed > MAX_STEPS {
                return Some(Failure {
                    code: None,
                    message: format!("The script was stopped after {MAX_STEPS} statements"),
                    statement: String::new(),
                });
            }
            let original = self.statements[pc].clone();
            let (stmt, text) = self.expanded(&original);
            let flow = match &stmt.error {
                Some(e) => Err(self.failure_of(e, &text)),
                None => self.statement(pc, &stmt, &text, &mut calls, &mut loops),
            };
            match flow {
                Ok(Flow::Next) => pc += 1,
                Ok(Flow::Jump(to)) => pc = to,
                Ok(Flow::Stop) => break,
                Err(f) if self.error_mode_continue() => {
                    self.step(Progress::Error, &f.message, 5);
                    self.skipped.push(f);
                    pc += 1;
                }
                Err(f) => return Some(f),
            }
        }
        if let Some((_, load)) = self.preceding.first() {
            let text = load
                .fields
                .first()
                .map(|f| f.text.clone())
                .unwrap_or_default();
            return Some(self.fail(
                ReloadError::UnexpectedToken,
                "end of script",
                &format!("LOAD {text}"),
            ));
        }
        None
    }

    /// The statement after dollar-sign expansion (re-parsed when the text changed).
    fn expanded(&self, s: &Statement) -> (Statement, String) {
        let raw = &self.script[s.span.clone()];
        if !s.has_dollar {
            return (s.clone(), raw.to_string());
        }
        let scope = RunScope {
            vars: &self.variables,
            tables: &self.tables,
        };
        let Ok(text) = expr::expand(raw, &scope) else {
            return (s.clone(), raw.to_string());
        };
        let reparsed = parse::parse_script(&text);
        match reparsed.statements.into_iter().next() {
            Some(mut st) => {
                // Block structure was checked on the whole script; a lone FOR is not an error here.
                st.error = st.error.or_else(|| {
                    reparsed
                        .errors
                        .iter()
                        .find(|e| e.code != ReloadError::ControlStatementMismatch)
                        .cloned()
                });
                st.span = s.span.clone();
                (st, text)
            }
            None => (
                Statement {
                    body: Body::Other(String::new()),
                    ..s.clone()
                },
                text,
            ),
        }
    }

    fn eval(&self, text: &str) -> Val {
        let scope = RunScope {
            vars: &self.variables,
            tables: &self.tables,
        };
        expr::evaluate(text, &scope).unwrap_or(Val::Null)
    }

    fn set_variable(&mut self, name: &str, value: String) {
        if !self.set_order.iter().any(|n| n == name) {
            self.set_order.push(name.to_string());
        }
        self.variables.insert(name.to_string(), value);
    }

    fn statement(
        &mut self,
        pc: usize,
        stmt: &Statement,
        text: &str,
        calls: &mut Vec<usize>,
        loops: &mut HashMap<usize, LoopState>,
    ) -> Result<Flow, Failure> {
        match &stmt.body {
            Body::Rem | Body::Other(_) | Body::Invalid => {}
            Body::Set { name, value } => {
                let v = value.trim().trim_matches('\'').to_string();
                self.set_variable(
                    name,
                    if value.trim().starts_with('\'') {
                        v
                    } else {
                        value.trim().to_string()
                    },
                );
            }
            Body::Let { name, value } => {
                let v = match self.eval(value) {
                    Val::Null => String::new(),
                    v => v.text(),
                };
                self.set_variable(name, v);
            }
            Body::Trace(t) => self.step(Progress::Text, t.trim(), 2),
            Body::LibConnect(name) => {
                self.step(Progress::ConnectingTo, name, 20);
                if !(self.env.connection_exists)(name) {
                    return Err(self.fail(ReloadError::ConnectionNotFound, name, text));
                }
                self.step(Progress::Connected, "", 20);
                self.connected = Some(name.clone());
            }
            Body::OtherConnect => return Err(self.fail(ReloadError::ConnectMustUseLib, "", text)),
            Body::Disconnect => self.connected = None,
            Body::Load(load) => {
                return self
                    .load(stmt.label.clone(), load, text)
                    .map(|()| Flow::Next);
            }
            Body::Sql(sql) => {
                let Some(conn) = self.connected.clone() else {
                    return Err(self.fail(ReloadError::NoOpenConnection, "", text));
                };
                let rows = rows_for(&format!("{conn}|{text}"));
                let source = sql.table.clone().unwrap_or_else(|| "SQL".into());
                let fields = sql.fields.clone();
                self.produce(
                    stmt.label.clone(),
                    &sql.prefixes,
                    source,
                    fields,
                    rows,
                    text,
                )?;
            }
            Body::DropTables(names) => {
                for n in names {
                    let Some(i) = self.table_index(n) else {
                        return Err(self.fail(ReloadError::TableNotFound, n, text));
                    };
                    self.tables.remove(i);
                }
            }
            Body::DropFields(names) => {
                for t in &mut self.tables {
                    t.table.fields.retain(|f| !names.contains(f));
                }
            }
            Body::RenameTables(pairs) => {
                for (from, to) in pairs {
                    let Some(i) = self.table_index(from) else {
                        return Err(self.fail(ReloadError::TableNotFound, from, text));
                    };
                    self.tables[i].table.name = to.clone();
                }
            }
            Body::Store { table, path } => {
                let Some(i) = self.table_index(table) else {
                    return Err(self.fail(ReloadError::TableNotFound, table, text));
                };
                self.check_path(path, text)?;
                self.stored_rows += self.tables[i].table.rows;
                self.step(Progress::Text, &format!("Storing {table} into {path}"), 20);
            }
            Body::Exit { what, condition } => {
                if let Some((when, cond)) = condition
                    && self.eval(cond).number().is_some_and(|n| n != 0.0) != *when
                {
                    return Ok(Flow::Next);
                }
                return Ok(match what.as_str() {
                    "script" => Flow::Stop,
                    "sub" => match calls.pop() {
                        Some(ret) => Flow::Jump(ret),
                        None => Flow::Next,
                    },
                    kind => {
                        let open = self.enclosing(pc, if kind == "for" { is_for } else { is_do });
                        match open {
                            Some(o) => {
                                loops.remove(&o);
                                Flow::Jump(self.forward(o) + 1)
                            }
                            None => Flow::Next,
                        }
                    }
                });
            }
            Body::If(cond) | Body::ElseIf(cond) => {
                let is_else_if = matches!(stmt.body, Body::ElseIf(_));
                if is_else_if {
                    // Reached after a taken branch: skip to END IF.
                    return Ok(Flow::Jump(self.end_of_if(pc)));
                }
                return Ok(self.branch(pc, cond));
            }
            Body::Else => return Ok(Flow::Jump(self.end_of_if(pc))),
            Body::EndIf | Body::EndSwitch => {}
            Body::Sub(_) => return Ok(Flow::Jump(self.forward(pc) + 1)),
            Body::EndSub => {
                if let Some(ret) = calls.pop() {
                    return Ok(Flow::Jump(ret));
                }
            }
            Body::Call(name) => {
                let Some(start) = self.jumps.subs.get(&name.to_ascii_lowercase()).copied() else {
                    return Err(self.fail(
                        ReloadError::UnknownStatement,
                        &format!("CALL {name}"),
                        text,
                    ));
                };
                calls.push(pc + 1);
                return Ok(Flow::Jump(start + 1));
            }
            Body::For {
                var,
                from,
                to,
                step,
            } => {
                let state = loops.entry(pc).or_insert_with(|| LoopState::Counter {
                    next: 0.0,
                    to: 0.0,
                    step: 1.0,
                    started: false,
                });
                if let LoopState::Counter {
                    next,
                    to: limit,
                    step: inc,
                    started,
                } = state
                    && !*started
                {
                    *next = self.eval(from).number().unwrap_or(0.0);
                    *limit = self.eval(to).number().unwrap_or(0.0);
                    *inc = step
                        .as_ref()
                        .and_then(|s| self.eval(s).number())
                        .unwrap_or(1.0);
                    *started = true;
                }
                return Ok(self.iterate(pc, var, loops));
            }
            Body::ForEach { var, items } => {
                if let std::collections::hash_map::Entry::Vacant(slot) = loops.entry(pc) {
                    let values = items
                        .iter()
                        .filter_map(|i| match self.eval(i) {
                            Val::Null => None,
                            v => Some(v.text()),
                        })
                        .collect();
                    slot.insert(LoopState::Items { values, at: 0 });
                }
                return Ok(self.iterate(pc, var, loops));
            }
            Body::Next => {
                if let Some(open) = self.jumps.back.get(&pc).copied() {
                    return Ok(Flow::Jump(open));
                }
            }
            Body::Do(cond) => {
                if let Some((when, c)) = cond
                    && self.eval(c).number().is_some_and(|n| n != 0.0) != *when
                {
                    return Ok(Flow::Jump(self.forward(pc) + 1));
                }
            }
            Body::Loop(cond) => {
                let open = self.jumps.back.get(&pc).copied();
                let again = match cond {
                    Some((when, c)) => self.eval(c).number().is_some_and(|n| n != 0.0) == *when,
                    None => true,
                };
                if let (true, Some(o)) = (again, open) {
                    return Ok(Flow::Jump(o + 1));
                }
            }
            Body::Switch(value) => {
                let v = self.eval(value).text();
                let mut at = self.forward(pc);
                while let Some(s) = self.statements.get(at) {
                    match &s.body {
                        Body::Case(values) => {
                            if values.iter().any(|c| self.eval(c).text() == v) {
                                return Ok(Flow::Jump(at + 1));
                            }
                        }
                        Body::Default => return Ok(Flow::Jump(at + 1)),
                        _ => return Ok(Flow::Jump(at + 1)),
                    }
                    at = self.jumps.forward.get(&at).copied().unwrap_or(at + 1);
                }
            }
            // Reached the end of a CASE body: leave the SWITCH.
            Body::Case(_) | Body::Default => {
                let open = self.enclosing(pc, |b| matches!(b, Body::Switch(_)));
                return Ok(match open {
                    Some(o) => Flow::Jump(self.end_of_switch(o) + 1),
                    None => Flow::Next,
                });
            }
        }
        Ok(Flow::Next)
    }

    fn branch(&self, pc: usize, cond: &str) -> Flow {
        let mut at = pc;
        let mut cond = cond.to_string();
        loop {
            if self.eval(&cond).number().is_some_and(|n| n != 0.0) {
                return Flow::Jump(at + 1);
            }
            let Some(next) = self.jumps.forward.get(&at).copied() else {
                return Flow::Next;
            };
            match &self.statements[next].body {
                Body::ElseIf(c) => {
                    cond = c.clone();
                    at = next;
                }
                _ => return Flow::Jump(next + 1),
            }
        }
    }

    fn end_of_if(&self, mut at: usize) -> usize {
        while let Some(next) = self.jumps.forward.get(&at).copied() {
            if matches!(self.statements[next].body, Body::EndIf) {
                return next + 1;
            }
            at = next;
        }
        at + 1
    }

    fn forward(&self, pc: usize) -> usize {
        self.jumps.forward.get(&pc).copied().unwrap_or(pc)
    }

    /// The statement closing the block `open` starts (END IF, END SWITCH, NEXT, LOOP, END SUB).
    fn block_end(&self, open: usize) -> usize {
        let mut at = open;
        while let Some(next) = self.jumps.forward.get(&at).copied() {
            at = next;
            if matches!(
                self.statements[at].body,
                Body::EndIf | Body::EndSwitch | Body::EndSub | Body::Next | Body::Loop(_)
            ) {
                break;
            }
        }
        at
    }

    fn end_of_switch(&self, open: usize) -> usize {
        self.block_end(open)
    }

    /// The nearest enclosing statement matching `pred` (by block structure).
    fn enclosing(&self, pc: usize, pred: fn(&Body) -> bool) -> Option<usize> {
        (0..pc)
            .rev()
            .find(|&o| pred(&self.statements[o].body) && self.block_end(o) > pc)
    }

    fn iterate(&mut self, pc: usize, var: &str, loops: &mut HashMap<usize, LoopState>) -> Flow {
        let end = self.jumps.forward.get(&pc).copied().unwrap_or(pc);
        let next_value = match loops.get_mut(&pc) {
            Some(LoopState::Counter { next, to, step, .. }) => {
                let done = if *step >= 0.0 {
                    *next > *to
                } else {
                    *next < *to
                };
                if done {
                    None
                } else {
                    let v = *next;
                    *next += *step;
                    Some(expr::format_number(v))
                }
            }
            Some(LoopState::Items { values, at }) => {
                let v = values.get(*at).cloned();
                *at += 1;
                v
            }
            None => None,
        };
        match next_value {
            Some(v) => {
                self.set_variable(var, v);
                Flow::Jump(pc + 1)
            }
            None => {
                loops.remove(&pc);
                Flow::Jump(end + 1)
            }
        }
    }

    fn table_index(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.table.name == name)
    }

    /// A `lib://` path must name an existing connection; other paths are refused (standard mode).
    fn check_path(&self, path: &str, text: &str) -> Result<(), Failure> {
        let Some(rest) = path
            .strip_prefix("lib://")
            .or_else(|| path.strip_prefix("LIB://"))
        else {
            return Err(self.fail(ReloadError::LibPathsOnly, path, text));
        };
        let conn = rest.split('/').next().unwrap_or(rest);
        if !(self.env.connection_exists)(conn) {
            return Err(self.fail(ReloadError::LibPathNotFound, &format!("lib://{conn}"), text));
        }
        Ok(())
    }

    fn load(&mut self, label: Option<String>, load: &Load, text: &str) -> Result<(), Failure> {
        if self.env.partial && !load.prefixes.partial && self.preceding.is_empty() {
            return Ok(());
        }
        if !self.env.partial && load.prefixes.only {
            return Ok(());
        }
        let (source, fields, rows) = match &load.source {
            Source::Preceding => {
                self.preceding.push((label, load.clone()));
                return Ok(());
            }
            Source::Inline { data, delimiter } => {
                let mut lines = data.lines().map(str::trim).filter(|l| !l.is_empty());
                let header: Vec<String> = lines
                    .next()
                    .map(|h| h.split(*delimiter).map(|f| f.trim().to_string()).collect())
                    .unwrap_or_default();
                ("INLINE".to_string(), header, lines.count() as u64)
            }
            Source::Autogenerate(count) => {
                let n = self.eval(count).number();
                match n {
                    Some(n) if n >= 0.0 && n <= f64::from(i32::MAX) && n.fract() == 0.0 => {
                        (format!("AUTOGENERATE({n})"), Vec::new(), n as u64)
                    }
                    _ => {
                        let shown = n.map_or_else(|| count.clone(), expr::format_number);
                        return Err(self.fail(ReloadError::AutogenerateCount, &shown, text));
                    }
                }
            }
            Source::Resident(table) => {
                let Some(i) = self.table_index(table) else {
                    return Err(self.fail(ReloadError::TableNotFound, table, text));
                };
                let t = &self.tables[i].table;
                (t.name.clone(), t.fields.clone(), t.rows)
            }
            Source::From { path } => {
                self.check_path(path, text)?;
                let base = path.rsplit('/').next().unwrap_or(path);
                let base = base.split('.').next().unwrap_or(base).replace('*', "");
                let fields = (1..=3).map(|i| format!("@{i}")).collect();
                (base.trim_matches('_').to_string(), fields, rows_for(path))
            }
            Source::FromField => ("FROM_FIELD".to_string(), Vec::new(), rows_for(text)),
        };
        let mut field_names: Vec<String> = Vec::new();
        for f in &load.fields {
            if f.text == "*" {
                field_names.extend(fields.iter().cloned());
            } else {
                field_names.push(f.name());
            }
        }
        self.produce(label, &load.prefixes, source, field_names, rows, text)
    }

    /// A LOAD or SELECT read `rows` rows with `fields` from `source`: apply the preceding loads
    /// waiting for it, then the prefixes, and add or extend a table.
    fn produce(
        &mut self,
        label: Option<String>,
        prefixes: &parse::Prefixes,
        source: String,
        fields: Vec<String>,
        rows: u64,
        text: &str,
    ) -> Result<(), Failure> {
        let (label, prefixes, fields) = match self.preceding.first().cloned() {
            Some((outer_label, outer)) => {
                let names: Vec<String> = outer
                    .fields
                    .iter()
                    .flat_map(|f| {
                        if f.text == "*" {
                            fields.clone()
                        } else {
                            vec![f.name()]
                        }
                    })
                    .collect();
                self.preceding.clear();
                (outer_label.or(label), outer.prefixes.clone(), names)
            }
            None => (label, prefixes.clone(), fields),
        };
        let name = label.clone().unwrap_or_else(|| source.clone());
        self.steps.push(Step {
            line: Some((
                Progress::Text,
                format!("{name} << {source} {} Lines fetched", thousands(rows)),
            )),
            transient: Some((Progress::LinesFetched, thousands(rows))),
            millis: 20 + (rows / 100_000).min(400),
        });
        self.loaded_rows += rows;
        if let Some(target) = prefixes.join.clone() {
            let i = match target {
                Some(t) => self
                    .table_index(&t)
                    .ok_or_else(|| self.fail(ReloadError::TableNotFound, &t, text))?,
                None => self
                    .tables
                    .len()
                    .checked_sub(1)
                    .ok_or_else(|| self.fail(ReloadError::NoPreviousTable, "", text))?,
            };
            let t = &mut self.tables[i].table;
            for f in fields {
                if !t.fields.contains(&f) {
                    t.fields.push(f);
                }
            }
            return Ok(());
        }
        let concat_target = match &prefixes.concatenate {
            Some(Some(t)) => Some(
                self.table_index(t)
                    .ok_or_else(|| self.fail(ReloadError::TableNotFound, t, text))?,
            ),
            Some(None) => Some(
                self.tables
                    .len()
                    .checked_sub(1)
                    .ok_or_else(|| self.fail(ReloadError::NoPreviousTable, "", text))?,
            ),
            None if prefixes.noconcatenate || prefixes.mapping => None,
            None if prefixes.replace => {
                if let Some(i) = self.table_index(&name) {
                    self.tables.remove(i);
                }
                None
            }
            None => self
                .tables
                .iter()
                .position(|t| !t.mapping && same_fields(&t.table.fields, &fields)),
        };
        if let Some(i) = concat_target {
            let t = &mut self.tables[i].table;
            t.rows += rows;
            for f in fields {
                if !t.fields.contains(&f) {
                    t.fields.push(f);
                }
            }
            return Ok(());
        }
        let mut unique = name.clone();
        let mut n = 0;
        while self.table_index(&unique).is_some() {
            n += 1;
            unique = format!("{name}-{n}");
        }
        self.tables.push(TableState {
            table: Table {
                name: unique,
                rows,
                fields,
            },
            mapping: prefixes.mapping,
        });
        Ok(())
    }

    fn finish(mut self, failure: Option<Failure>) -> Plan {
        let success = failure.is_none();
        if let Some(f) = &failure {
            self.step(Progress::Text, "The following error occurred:", 5);
            self.step(Progress::Error, &f.message, 5);
            if !f.statement.is_empty() {
                self.step(Progress::Text, "The error occurred here:", 5);
                let statement = f.statement.clone();
                self.step(Progress::Text, &statement, 5);
            }
            self.step(
                Progress::Text,
                "Data has not been loaded. Please correct the error and try loading again.",
                5,
            );
        } else {
            self.step(Progress::SearchIndexStart, "", 30);
            self.step(Progress::SearchIndexSuccess, "", 10);
        }
        let tables = self
            .tables
            .into_iter()
            .filter(|t| !t.mapping)
            .map(|t| t.table)
            .collect();
        let variables = self
            .set_order
            .iter()
            .filter_map(|n| self.variables.get(n).map(|v| (n.clone(), v.clone())))
            .collect();
        Plan {
            steps: self.steps,
            outcome: Outcome {
                success,
                tables,
                variables,
                failure,
                skipped_errors: self.skipped,
                loaded_rows: self.loaded_rows,
                stored_rows: self.stored_rows,
            },
        }
    }
}

enum LoopState {
    Counter {
        next: f64,
        to: f64,
        step: f64,
        started: bool,
    },
    Items {
        values: Vec<String>,
        at: usize,
    },
}

fn is_for(b: &Body) -> bool {
    matches!(b, Body::For { .. } | Body::ForEach { .. })
}

fn is_do(b: &Body) -> bool {
    matches!(b, Body::Do(_))
}

fn same_fields(a: &[String], b: &[String]) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    let mut x: Vec<&String> = a.iter().collect();
    let mut y: Vec<&String> = b.iter().collect();
    x.sort();
    y.sort();
    x == y
}

/// A stable row count in 100..50,100 for a source the sandbox cannot read.
fn rows_for(source: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.to_ascii_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    100 + h % 50_000
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Block structure: where each opening statement's block ends, and back again.
fn jumps(statements: &[Statement]) -> Jumps {
    let mut j = Jumps::default();
    let mut stack: Vec<usize> = Vec::new();
    for (i, s) in statements.iter().enumerate() {
        match &s.body {
            Body::If(_)
            | Body::For { .. }
            | Body::ForEach { .. }
            | Body::Do(_)
            | Body::Switch(_) => stack.push(i),
            Body::Sub(name) => {
                j.subs.insert(name.to_ascii_lowercase(), i);
                stack.push(i);
            }
            Body::ElseIf(_) | Body::Else | Body::Case(_) | Body::Default => {
                if let Some(open) = stack.pop() {
                    j.forward.insert(open, i);
                    j.back.insert(i, open);
                }
                stack.push(i);
            }
            Body::EndIf | Body::EndSub | Body::Next | Body::Loop(_) | Body::EndSwitch => {
                if let Some(open) = stack.pop() {
                    j.forward.insert(open, i);
                    j.back.insert(i, first_of_chain(&j, open));
                }
            }
            _ => {}
        }
    }
    j
}

fn first_of_chain(j: &Jumps, mut at: usize) -> usize {
    while let Some(prev) = j.back.get(&at).copied() {
        at = prev;
    }
    at
}

/// Variables and tables as a reload sees them.
struct RunScope<'a> {
    vars: &'a HashMap<String, String>,
    tables: &'a [TableState],
}

impl Scope for RunScope<'_> {
    fn variable(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn is_field(&self, name: &str) -> bool {
        self.tables
            .iter()
            .any(|t| t.table.fields.iter().any(|f| f == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(script: &str, connections: &[&str]) -> Plan {
        let exists = |n: &str| connections.iter().any(|c| c.eq_ignore_ascii_case(n));
        let env = Environment {
            connection_exists: &exists,
            variables: vec![("vN".into(), "3".into())],
            previous: DataModel::default(),
            partial: false,
        };
        run(script, &env)
    }

    fn lines(p: &Plan) -> Vec<String> {
        p.steps
            .iter()
            .filter_map(|s| s.line.as_ref().map(|(c, a)| c.text(a)))
            .collect()
    }

    #[test]
    fn seeded_script_loads_every_table() {
        let script = crate::engine::qvf::seeded_script("X");
        let p = run_with(&script, crate::engine::qvf::SEEDED_CONNECTIONS);
        assert!(p.outcome.success, "{:?}", p.outcome.failure);
        let log = lines(&p);
        assert!(
            log.contains(&"Regions << INLINE 4 Lines fetched".to_string()),
            "{log:?}"
        );
        assert!(log.contains(&"Calendar << AUTOGENERATE(366) 366 Lines fetched".to_string()));
        assert!(log.iter().any(|l| l.starts_with("Orders << Orders ")));
        assert!(log.contains(&"Connecting to Sales DB".to_string()));
        assert_eq!(
            log.last().unwrap(),
            "Search index creation completed successfully"
        );
        let t = &p.outcome.tables;
        assert_eq!(t[0].fields, vec!["RegionId", "Region"]);
        assert_eq!(t[1].fields, vec!["OrderDate", "Year"]);
        assert!(
            p.outcome
                .variables
                .iter()
                .any(|(n, v)| n == "DateFormat" && v == "M/D/YYYY")
        );
    }

    #[test]
    fn failures_name_the_statement() {
        let p = run_with(
            "A: LOAD * INLINE [x\n1];\nB: LOAD x RESIDENT Nope;\nC: LOAD 1 AS y AUTOGENERATE 1;",
            &[],
        );
        assert!(!p.outcome.success);
        let f = p.outcome.failure.clone().unwrap();
        assert_eq!(f.code, Some(ReloadError::TableNotFound));
        assert_eq!(f.message, "Table 'Nope' not found");
        assert_eq!(f.statement, "B: LOAD x RESIDENT Nope;");
        assert_eq!(p.outcome.tables.len(), 1);
        let log = lines(&p);
        assert!(
            log.contains(&"Script error: Table 'Nope' not found".to_string()),
            "{log:?}"
        );

        let f = |s: &str| run_with(s, &["Data"]).outcome.failure.map(|f| f.code);
        assert_eq!(
            f("LIB CONNECT TO 'Missing';"),
            Some(Some(ReloadError::ConnectionNotFound))
        );
        assert_eq!(
            f("LOAD * FROM [lib://Nope/x.csv];"),
            Some(Some(ReloadError::LibPathNotFound))
        );
        assert_eq!(
            f("LOAD * FROM [C:\\data\\x.csv];"),
            Some(Some(ReloadError::LibPathsOnly))
        );
        assert_eq!(
            f("SQL SELECT * FROM t;"),
            Some(Some(ReloadError::NoOpenConnection))
        );
        assert_eq!(f("LOADD x;"), Some(Some(ReloadError::UnknownStatement)));
        assert_eq!(
            f("LOAD 1 AS a AUTOGENERATE -1;"),
            Some(Some(ReloadError::AutogenerateCount))
        );
        assert_eq!(f("LOAD * FROM [lib://Data/x.csv] (txt);"), None);
        assert_eq!(
            f("SET ErrorMode=0;\nLOAD x RESIDENT Nope;\nT: LOAD 1 AS a AUTOGENERATE 2;"),
            None
        );
    }

    #[test]
    fn control_flow_variables_and_prefixes() {
        let script = "LET vDouble = vN * 2;\n\
            FOR i = 1 TO $(vDouble)\n  T: LOAD $(i) AS n AUTOGENERATE 1;\nNEXT i\n\
            IF vN > 5 THEN\n  Big: LOAD 1 AS b AUTOGENERATE 1;\nELSEIF vN = 3 THEN\n  Three: LOAD 1 AS c AUTOGENERATE 3;\nELSE\n  Other: LOAD 1 AS d AUTOGENERATE 1;\nEND IF\n\
            SUB Add(x)\n  CONCATENATE (Three) LOAD 1 AS c AUTOGENERATE 10;\nEND SUB\nCALL Add(1);\n\
            Map: MAPPING LOAD * INLINE [a, b\n1, x];\n\
            FOR EACH v IN 'x', 'y'\n  TRACE $(v);\nNEXT v\n\
            Pre: LOAD n * 2 AS m;\nLOAD 1 AS n AUTOGENERATE 7;\n\
            DROP TABLE T;";
        let p = run_with(script, &[]);
        assert!(p.outcome.success, "{:?}", p.outcome.failure);
        let names: Vec<(&str, u64)> = p
            .outcome
            .tables
            .iter()
            .map(|t| (t.name.as_str(), t.rows))
            .collect();
        assert_eq!(names, vec![("Three", 13), ("Pre", 7)]);
        let log = lines(&p);
        assert!(log.contains(&"x".to_string()) && log.contains(&"y".to_string()));
        assert_eq!(
            p.outcome
                .variables
                .iter()
                .find(|(n, _)| n == "vDouble")
                .unwrap()
                .1,
            "6"
        );
    }
}
