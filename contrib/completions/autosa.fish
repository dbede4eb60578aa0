# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_autosa_global_optspecs
    string join \n config= log= socket= h/help V/version
end

function __fish_autosa_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_autosa_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_autosa_using_subcommand
    set -l cmd (__fish_autosa_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c autosa -n "__fish_autosa_needs_command" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_needs_command" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_needs_command" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_needs_command" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_needs_command" -s V -l version -d 'Print version'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "run" -d 'The daemon: watch, classify, switch the scheduler, prove it helped, roll back when it did not. Restores everything on SIGTERM/SIGINT'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "snapshot" -d 'Print what the machine is doing: CPU, PSI, load, memory, disks and, with eBPF, run-queue/slice/block latency histograms and the busiest processes'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "recommend" -d 'Watch for a while, then say what the workload is, why, and which scheduler each backend would use. Changes nothing'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "record" -d 'Write snapshots to a file (JSON Lines) for replay and offline tests'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "replay" -d 'Run the policy engine over a recording and print its decisions over time'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "doctor" -d 'Check every kernel feature autosa uses and say what to do about what is missing'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "top" -d 'A live view: run-queue latency, CPU, pressure, the processes waiting longest, the class and why, and the switch timeline'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "status" -d 'What the daemon sees and does now: class, scheduler, switches, pauses'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "schedulers" -d 'What the daemon\'s backend offers (schedulers or per-task actions)'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "switch" -d 'Choose by hand: a workload class or a scheduler; automatic switching pauses (for --for, or until `autosa resume`)'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "pause" -d 'Pause automatic switching; what is applied stays'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "resume" -d 'End a pause, a manual choice and every manual back-off'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "history" -d 'Decisions, switches, rollbacks, commands and metrics the daemon recorded'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "config" -d 'Check or print the configuration'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "install" -d 'Install the binary, the systemd unit and a default configuration (an existing one is kept)'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "mcp" -d 'Serve autosa to an LLM agent over MCP (stdio): status, metrics, recommendations, history, and switch/pause/resume requests to the daemon'
complete -c autosa -n "__fish_autosa_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c autosa -n "__fish_autosa_using_subcommand run" -l backend -d 'Which backend acts [default: daemon.backend from the config, auto]' -r -f -a "auto\t'sched_ext when the kernel has it and schedulers are installed, else eevdf'
mcp\t'schedcp\'s MCP server'
scx\t'sched_ext schedulers run directly'
eevdf\t'Per-task EEVDF tuning (and global knobs where the kernel allows)'
none\t'Decide and log only'"
complete -c autosa -n "__fish_autosa_using_subcommand run" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand run" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand run" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand run" -l dry-run -d 'Decide and log, change nothing'
complete -c autosa -n "__fish_autosa_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -l interval -d 'Time between snapshots [default: collect.interval from the config, 1s]' -r
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -l count -d 'Number of snapshots to print; 0 prints until interrupted' -r
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -l json -d 'One JSON object per snapshot and line (schema: model::snapshot, stable field names)'
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -l no-bpf -d 'Do not load the eBPF programs: procfs only'
complete -c autosa -n "__fish_autosa_using_subcommand snapshot" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand recommend" -l duration -d 'How long to watch before answering' -r
complete -c autosa -n "__fish_autosa_using_subcommand recommend" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand recommend" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand recommend" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand recommend" -l json -d 'Print the report as JSON'
complete -c autosa -n "__fish_autosa_using_subcommand recommend" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand record" -l out -d 'File to write (JSON Lines: a header, then one snapshot per line)' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand record" -l interval -d 'Time between snapshots [default: collect.interval from the config]' -r
complete -c autosa -n "__fish_autosa_using_subcommand record" -l count -d 'Snapshots to record; 0 records until interrupted' -r
complete -c autosa -n "__fish_autosa_using_subcommand record" -l duration -d 'Record for this long instead of a count' -r
complete -c autosa -n "__fish_autosa_using_subcommand record" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand record" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand record" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand record" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand replay" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand replay" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand replay" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand replay" -l json -d 'Print the decisions as a JSON array'
complete -c autosa -n "__fish_autosa_using_subcommand replay" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand doctor" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand doctor" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand doctor" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand doctor" -l json -d 'Print the checks as JSON'
complete -c autosa -n "__fish_autosa_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand top" -l interval -d 'Time between updates [default: collect.interval from the config, 1s]' -r
complete -c autosa -n "__fish_autosa_using_subcommand top" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand top" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand top" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand top" -l standalone -d 'Do not ask the daemon: collect and classify in this process (a `--socket` is then not used)'
complete -c autosa -n "__fish_autosa_using_subcommand top" -l no-bpf -d 'Standalone: do not load the eBPF programs (procfs only)'
complete -c autosa -n "__fish_autosa_using_subcommand top" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand status" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand status" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand status" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand status" -l json -d 'Print the status as JSON (stable field names)'
complete -c autosa -n "__fish_autosa_using_subcommand status" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand schedulers" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand schedulers" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand schedulers" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand schedulers" -l json -d 'Print as JSON'
complete -c autosa -n "__fish_autosa_using_subcommand schedulers" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand switch" -l for -d 'Pause automatic switching this long (e.g. 10m), then resume it [default: until `autosa resume`]' -r
complete -c autosa -n "__fish_autosa_using_subcommand switch" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand switch" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand switch" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand switch" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand pause" -l for -d 'Resume by itself after this long (e.g. 10m) [default: at `autosa resume`]' -r
complete -c autosa -n "__fish_autosa_using_subcommand pause" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand pause" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand pause" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand pause" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand resume" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand resume" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand resume" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand resume" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand history" -l since -d 'Only records this recent (e.g. 1h, 2days)' -r
complete -c autosa -n "__fish_autosa_using_subcommand history" -l limit -d 'At most this many of the newest records' -r
complete -c autosa -n "__fish_autosa_using_subcommand history" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand history" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand history" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand history" -l json -d 'Print as JSON (an array of records)'
complete -c autosa -n "__fish_autosa_using_subcommand history" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand config; and not __fish_seen_subcommand_from check default help" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand config; and not __fish_seen_subcommand_from check default help" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand config; and not __fish_seen_subcommand_from check default help" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand config; and not __fish_seen_subcommand_from check default help" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand config; and not __fish_seen_subcommand_from check default help" -f -a "check" -d 'Validate the configuration file (defaults when the default path is absent)'
complete -c autosa -n "__fish_autosa_using_subcommand config; and not __fish_seen_subcommand_from check default help" -f -a "default" -d 'Print the default configuration as TOML'
complete -c autosa -n "__fish_autosa_using_subcommand config; and not __fish_seen_subcommand_from check default help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from check" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from check" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from default" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from default" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from default" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from default" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the configuration file (defaults when the default path is absent)'
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "default" -d 'Print the default configuration as TOML'
complete -c autosa -n "__fish_autosa_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c autosa -n "__fish_autosa_using_subcommand install" -l prefix -d 'Installation prefix: the binary goes to PREFIX/bin/autosa' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand install" -l root -d 'Install into this directory instead of / (packaging, images, tests). The unit still names PREFIX/bin/autosa, the path on the target system' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand install" -l sched-ext -d 'Install the drop-in that gives sched_ext schedulers CAP_SYS_ADMIN [default: auto, when this kernel has sched_ext]' -r -f -a "auto\t''
yes\t''
no\t''"
complete -c autosa -n "__fish_autosa_using_subcommand install" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand install" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand install" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand install" -l dry-run -d 'Print what would be done, change nothing'
complete -c autosa -n "__fish_autosa_using_subcommand install" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand mcp" -l timeout -d 'How long to wait for the daemon\'s answer to a question (status, metrics, …)' -r
complete -c autosa -n "__fish_autosa_using_subcommand mcp" -l switch-timeout -d 'How long to wait for the daemon\'s answer to switch, pause or resume (starting a sched_ext scheduler can take many seconds)' -r
complete -c autosa -n "__fish_autosa_using_subcommand mcp" -l config -d 'Configuration file' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand mcp" -l log -d 'Log filter (tracing syntax), e.g. `debug` or `autosa=trace`' -r
complete -c autosa -n "__fish_autosa_using_subcommand mcp" -l socket -d 'The daemon\'s control socket [default: control.socket from the config]' -r -F
complete -c autosa -n "__fish_autosa_using_subcommand mcp" -s h -l help -d 'Print help'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "run" -d 'The daemon: watch, classify, switch the scheduler, prove it helped, roll back when it did not. Restores everything on SIGTERM/SIGINT'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "snapshot" -d 'Print what the machine is doing: CPU, PSI, load, memory, disks and, with eBPF, run-queue/slice/block latency histograms and the busiest processes'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "recommend" -d 'Watch for a while, then say what the workload is, why, and which scheduler each backend would use. Changes nothing'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "record" -d 'Write snapshots to a file (JSON Lines) for replay and offline tests'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "replay" -d 'Run the policy engine over a recording and print its decisions over time'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "doctor" -d 'Check every kernel feature autosa uses and say what to do about what is missing'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "top" -d 'A live view: run-queue latency, CPU, pressure, the processes waiting longest, the class and why, and the switch timeline'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "status" -d 'What the daemon sees and does now: class, scheduler, switches, pauses'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "schedulers" -d 'What the daemon\'s backend offers (schedulers or per-task actions)'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "switch" -d 'Choose by hand: a workload class or a scheduler; automatic switching pauses (for --for, or until `autosa resume`)'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "pause" -d 'Pause automatic switching; what is applied stays'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "resume" -d 'End a pause, a manual choice and every manual back-off'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "history" -d 'Decisions, switches, rollbacks, commands and metrics the daemon recorded'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "config" -d 'Check or print the configuration'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "install" -d 'Install the binary, the systemd unit and a default configuration (an existing one is kept)'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "mcp" -d 'Serve autosa to an LLM agent over MCP (stdio): status, metrics, recommendations, history, and switch/pause/resume requests to the daemon'
complete -c autosa -n "__fish_autosa_using_subcommand help; and not __fish_seen_subcommand_from run snapshot recommend record replay doctor top status schedulers switch pause resume history config install mcp help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c autosa -n "__fish_autosa_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate the configuration file (defaults when the default path is absent)'
complete -c autosa -n "__fish_autosa_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "default" -d 'Print the default configuration as TOML'
