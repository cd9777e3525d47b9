// `patchbay completion bash|zsh`: completes command words, then the flags of the command typed so far.
import type { CommandContext } from "./context.ts";
import { CliError } from "./output.ts";

/** What completion needs of the command table; commands.ts hands it in (so this file does not import it back). */
export interface CompletionTable {
  commands: readonly { name: string; flags: object }[];
  globalFlags: object;
}

function table({ commands, globalFlags }: CompletionTable): string {
  // One line per command: "words|--flag --flag".
  return commands.map((c) => `${c.name}|${[...Object.keys(c.flags), ...Object.keys(globalFlags)].map((f) => `--${f}`).join(" ")}`).join("\n");
}

export function completionScript(shell: "bash" | "zsh", commands: CompletionTable): string {
  const body = `_patchbay_table='${table(commands)}'
_patchbay_candidates() {
  # $1: the words typed before the one being completed (without "patchbay")
  local typed="$1" line name flags out=""
  while IFS= read -r line; do
    name="\${line%%|*}"; flags="\${line#*|}"
    case "$typed" in
      "$name"|"$name "*) out="$flags"; echo "$out"; return;;
    esac
    if [ -z "$typed" ]; then out="$out \${name%% *}";
    else case "$name" in "$typed "*) local rest="\${name#"$typed "}"; out="$out \${rest%% *}";; esac; fi
  done <<< "$_patchbay_table"
  [ -z "$typed" ] && out="$out help completion --version --help"
  echo "$out"
}`;
  if (shell === "bash") {
    return `${body}
_patchbay() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" typed=""
  local i; for ((i=1; i<COMP_CWORD; i++)); do case "\${COMP_WORDS[i]}" in -*) break;; *) typed="\${typed:+$typed }\${COMP_WORDS[i]}";; esac; done
  COMPREPLY=( $(compgen -W "$(_patchbay_candidates "$typed")" -- "$cur") )
}
complete -F _patchbay patchbay
`;
  }
  return `${body}
_patchbay() {
  local typed="" w
  for w in "\${words[@]:1:$((CURRENT-2))}"; do case "$w" in -*) break;; *) typed="\${typed:+$typed }$w";; esac; done
  local -a c; c=(\${=$(_patchbay_candidates "$typed")})
  compadd -a c
}
compdef _patchbay patchbay
`;
}

export async function completionCommand({ args }: CommandContext, commands: CompletionTable): Promise<void> {
  const shell = args[0];
  if (shell !== "bash" && shell !== "zsh") throw new CliError("completion needs bash or zsh.", 'eval "$(patchbay completion bash)"', 2);
  process.stdout.write(completionScript(shell, commands));
}
