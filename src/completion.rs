//! Shell completions and man pages, both generated from the one clap definition.
//!
//! `qtool completion <shell>` prints a registration script that calls qtool back on each TAB
//! (`QTOOL_COMPLETE=<shell> qtool -- ...`), so context names complete from the local store.
//! `qtool __generate --out-dir .` rewrites `completions/` and `man/`; a test fails when the
//! committed files are stale.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};

use crate::app::App;
use crate::cli::Cli;
use crate::error::{Error, Result};

pub(crate) const COMPLETE_VAR: &str = "QTOOL_COMPLETE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

impl Shell {
    fn completer(self) -> &'static dyn EnvCompleter {
        match self {
            Shell::Bash => &Bash,
            Shell::Zsh => &Zsh,
            Shell::Fish => &Fish,
            Shell::Powershell => &Powershell,
            Shell::Elvish => &Elvish,
        }
    }

    /// File name under `completions/`.
    fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "qtool.bash",
            Shell::Zsh => "_qtool",
            Shell::Fish => "qtool.fish",
            Shell::Powershell => "_qtool.ps1",
            Shell::Elvish => "qtool.elv",
        }
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Load it at shell start-up, e.g. in ~/.bashrc:  source <(qtool completion bash)\n\
                        zsh: source <(qtool completion zsh)   fish: qtool completion fish | source\n\
                        PowerShell: qtool completion powershell | Out-String | Invoke-Expression"
)]
pub struct CompletionArgs {
    /// Shell to print the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory that receives completions/ and man/.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
}

/// Answer a completion request (when `QTOOL_COMPLETE` is set) and exit; otherwise return.
pub(crate) fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .completer("qtool")
        .complete();
}

fn registration(shell: Shell) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    shell
        .completer()
        .write_registration(COMPLETE_VAR, "qtool", "qtool", "qtool", &mut buf)
        .map_err(|e| Error::io("writing the completion script", e))?;
    Ok(buf)
}

pub(crate) fn run_completion(args: CompletionArgs, app: &App) -> Result<u8> {
    app.printer.write_raw(&registration(args.shell)?)?;
    Ok(0)
}

pub(crate) fn run_generate(args: GenerateArgs, cmd: &clap::Command) -> Result<u8> {
    generate_all(&args.out_dir, cmd)?;
    crate::output::status(&format!(
        "Wrote completions/ and man/ under {}",
        args.out_dir.display()
    ));
    Ok(0)
}

/// Write every completion script and one man page per real command: none for hidden commands
/// or clap's `help` pseudo-subcommands.
pub(crate) fn generate_all(out_dir: &Path, cmd: &clap::Command) -> Result<()> {
    let completions = out_dir.join("completions");
    let man = out_dir.join("man");
    for dir in [&completions, &man] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|e| Error::io(format!("clearing {}", dir.display()), e))?;
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    for shell in Shell::value_variants() {
        let path = completions.join(shell.file_name());
        std::fs::write(&path, registration(*shell)?)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    // `generate_to` turns the help subcommands off (a setting every subcommand inherits), which
    // only works on a command that is not built yet.
    clap_mangen::generate_to(cmd.clone(), &man)
        .map_err(|e| Error::io(format!("writing man pages to {}", man.display()), e))?;
    Ok(())
}
