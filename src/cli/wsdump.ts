import { Command } from 'commander';

export function createWsdumpProgram(): Command {
  return new Command('wsdump')
    .description('Dissect the WebSocket traffic in a pcap or pcapng capture.')
    .argument('[capture]', 'capture file, or - for stdin');
}

export async function main(argv: string[]): Promise<number> {
  const program = createWsdumpProgram();
  program.parse(argv);
  process.stderr.write('wsdump: capture reading is not implemented yet\n');
  return 2;
}
