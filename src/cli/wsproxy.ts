import { Command } from 'commander';

export function createWsproxyProgram(): Command {
  return new Command('wsproxy').description('Relay TCP traffic and dissect the WebSocket frames that cross it.');
}

export async function main(argv: string[]): Promise<number> {
  createWsproxyProgram().parse(argv);
  process.stderr.write('wsproxy: the proxy is not implemented yet\n');
  return 2;
}
