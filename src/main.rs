fn main() -> std::process::ExitCode {
    qtool::main_entry()
}
