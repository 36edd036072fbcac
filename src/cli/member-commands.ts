import type { Command } from 'commander';
import { addMember } from '../client/membership.js';
import type { MemberConfiguration } from '../client/membership.js';
import type { RaftClient } from '../client/raft-client.js';
import type { MemberInfo } from '../protocol/client-messages.js';
import { formatAddress, parseAddress } from '../transport/address.js';
import { parseIntegerOption } from './options.js';

/** What the member commands need from raft-cli: a client, printing, the deadline. */
export interface MemberCommandContext {
  readonly run: (action: (client: RaftClient) => Promise<number>) => Promise<number>;
  readonly print: (json: unknown, text: string) => void;
  readonly deadlineMs: () => number;
  readonly wrap: (fn: (...args: string[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;
}

function memberTable(members: readonly MemberInfo[]): string {
  const header = ['ID', 'ADDRESS', 'ROLE', 'MATCH', 'LAG'];
  const lines = members.map((m) => [m.id, m.address || '-', m.role, m.match, m.lag].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  return [header, ...lines].map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function describeConfiguration(config: MemberConfiguration): string {
  return `voters ${config.voters.join(',') || '-'}; learners ${config.learners.join(',') || '-'}`;
}

const parseId = (text: string): number => parseIntegerOption('ID', text, 1, Number.MAX_SAFE_INTEGER);

/** `raft-cli member list|add|promote|remove` (etcdctl member ...). */
export function addMemberCommands(program: Command, context: MemberCommandContext): void {
  const member = program.command('member').description('list the members, add a node (as a learner, then promoted), promote a learner, remove a member');
  member.command('list').description('one row per member, as the leader sees it: id, address, role (voter|learner), match index, lag behind the leader')
    .action(context.wrap(() => context.run(async (client) => {
      const members = await client.members({ deadlineMs: context.deadlineMs() });
      context.print(members, memberTable(members));
      return 0;
    })));
  const add = member.command('add <id> <address>').description('add node ID reached at HOST:PORT as a learner; unless --learner, wait (within --timeout-ms) until it has caught up, then promote it to voter')
    .option('--learner', 'leave it a learner (promote it later with member promote)', false);
  add.action(context.wrap((idText, addressText) => context.run(async (client) => {
    const id = parseId(idText!);
    const address = formatAddress(parseAddress(addressText!));
    const learnerOnly = add.opts<{ learner: boolean }>().learner;
    const config = await addMember(client, {
      id,
      address,
      learnerOnly,
      deadlineMs: context.deadlineMs(),
      onStep: (step, detail) => {
        if (step === 'learner-added' && !learnerOnly) process.stderr.write(`node ${id} added as a learner at index ${detail.index}; waiting for it to catch up\n`);
      },
    });
    const role = learnerOnly ? 'learner' : 'voter';
    context.print({ ok: true, id, address, role, ...config }, `node ${id} (${address}) is a ${role}: ${describeConfiguration(config)}`);
    return 0;
  })));
  member.command('promote <id>').description('make learner ID a voter (refused while it is far behind the leader)')
    .action(context.wrap((idText) => context.run(async (client) => {
      const id = parseId(idText!);
      const config = await client.changeMember({ op: 'promote', id }, { deadlineMs: context.deadlineMs() });
      context.print({ ok: true, id, ...config }, `node ${id} is a voter: ${describeConfiguration(config)}`);
      return 0;
    })));
  member.command('remove <id>').description('remove member ID; the node logs "removed from the cluster" and exits (a removed leader hands over first)')
    .action(context.wrap((idText) => context.run(async (client) => {
      const id = parseId(idText!);
      const config = await client.changeMember({ op: 'remove', id }, { deadlineMs: context.deadlineMs() });
      context.print({ ok: true, id, ...config }, `node ${id} removed: ${describeConfiguration(config)}`);
      return 0;
    })));
}
