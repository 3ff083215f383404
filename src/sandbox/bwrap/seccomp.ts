/**
 * The seccomp filter handed to bubblewrap (`--seccomp FD`): classic BPF
 * bytecode generated here, so the product depends on nothing but bwrap.
 * It denies with EPERM what no function needs (kernel, mount, namespace,
 * keyring, tracing and clock-changing calls) and allows everything else;
 * clone is allowed only without CLONE_NEW* flags and clone3 answers ENOSYS
 * so libc falls back to clone, whose flags the filter can inspect.
 */

// struct sock_filter opcodes.
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_JMP_JSET_K = 0x45;
const BPF_RET_K = 0x06;

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;

// struct seccomp_data offsets.
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LOW = 16; // little-endian: the low 32 bits of args[0]

const X32_SYSCALL_BIT = 0x40000000;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (CLONE_NEWTIME overlaps the exit signal in clone). */
const CLONE_NEW_MASK =
  0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

const DENIED = [
  'ptrace',
  'mount',
  'umount2',
  'pivot_root',
  'swapon',
  'swapoff',
  'reboot',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'add_key',
  'request_key',
  'keyctl',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'unshare',
  'setns',
  'process_vm_readv',
  'process_vm_writev',
  'open_by_handle_at',
  'name_to_handle_at',
  'acct',
  'quotactl',
  'quotactl_fd',
  'lookup_dcookie',
  'iopl',
  'ioperm',
  'settimeofday',
  'clock_settime',
  'adjtimex',
  'clock_adjtime',
  'sethostname',
  'setdomainname',
  'syslog',
  'kcmp',
  'pidfd_getfd',
  // The new mount API and io_uring reach what `mount` is denied for by other doors.
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
] as const;

type Syscall = (typeof DENIED)[number] | 'clone' | 'clone3';

interface ArchTable {
  auditArch: number;
  x32Bit: boolean;
  nr: Partial<Record<Syscall, number>>;
}

const ARCHES: Record<'x64' | 'arm64', ArchTable> = {
  x64: {
    auditArch: 0xc000003e,
    x32Bit: true,
    nr: {
      ptrace: 101,
      mount: 165,
      umount2: 166,
      pivot_root: 155,
      swapon: 167,
      swapoff: 168,
      reboot: 169,
      kexec_load: 246,
      kexec_file_load: 320,
      init_module: 175,
      finit_module: 313,
      delete_module: 176,
      add_key: 248,
      request_key: 249,
      keyctl: 250,
      bpf: 321,
      perf_event_open: 298,
      userfaultfd: 323,
      unshare: 272,
      setns: 308,
      process_vm_readv: 310,
      process_vm_writev: 311,
      open_by_handle_at: 304,
      name_to_handle_at: 303,
      acct: 163,
      quotactl: 179,
      quotactl_fd: 443,
      lookup_dcookie: 212,
      iopl: 172,
      ioperm: 173,
      settimeofday: 164,
      clock_settime: 227,
      adjtimex: 159,
      clock_adjtime: 305,
      sethostname: 170,
      setdomainname: 171,
      syslog: 103,
      kcmp: 312,
      pidfd_getfd: 438,
      open_tree: 428,
      move_mount: 429,
      fsopen: 430,
      fsconfig: 431,
      fsmount: 432,
      fspick: 433,
      mount_setattr: 442,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      clone: 56,
      clone3: 435,
    },
  },
  arm64: {
    auditArch: 0xc00000b7,
    x32Bit: false,
    nr: {
      ptrace: 117,
      mount: 40,
      umount2: 39,
      pivot_root: 41,
      swapon: 224,
      swapoff: 225,
      reboot: 142,
      kexec_load: 104,
      kexec_file_load: 294,
      init_module: 105,
      finit_module: 273,
      delete_module: 106,
      add_key: 217,
      request_key: 218,
      keyctl: 219,
      bpf: 280,
      perf_event_open: 241,
      userfaultfd: 282,
      unshare: 97,
      setns: 268,
      process_vm_readv: 270,
      process_vm_writev: 271,
      open_by_handle_at: 265,
      name_to_handle_at: 264,
      acct: 89,
      quotactl: 60,
      quotactl_fd: 443,
      lookup_dcookie: 18,
      settimeofday: 170,
      clock_settime: 112,
      adjtimex: 171,
      clock_adjtime: 266,
      sethostname: 161,
      setdomainname: 162,
      syslog: 116,
      kcmp: 272,
      pidfd_getfd: 438,
      open_tree: 428,
      move_mount: 429,
      fsopen: 430,
      fsconfig: 431,
      fsmount: 432,
      fspick: 433,
      mount_setattr: 442,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      clone: 220,
      clone3: 435,
    },
  },
};

interface Insn {
  code: number;
  k: number;
  /** Jump targets by label (resolved to relative offsets when assembled). */
  jt?: string;
  jf?: string;
  label?: string;
}

/** True when a filter can be generated for this CPU architecture. */
export function seccompSupported(arch: string = process.arch): boolean {
  return arch === 'x64' || arch === 'arm64';
}

/** The filter as bytes for `bwrap --seccomp FD` (struct sock_filter[], host byte order). */
export function compileSeccompFilter(arch: string = process.arch): Buffer {
  if (arch !== 'x64' && arch !== 'arm64')
    throw new Error(`no seccomp filter for architecture ${arch}`);
  const table = ARCHES[arch];
  const prog: Insn[] = [
    { code: BPF_LD_W_ABS, k: OFF_ARCH },
    // A foreign ABI (i386 int 0x80 on x86_64) would bypass every number below.
    { code: BPF_JMP_JEQ_K, k: table.auditArch, jf: 'deny' },
    { code: BPF_LD_W_ABS, k: OFF_NR },
  ];
  if (table.x32Bit) prog.push({ code: BPF_JMP_JGE_K, k: X32_SYSCALL_BIT, jt: 'deny' });
  prog.push({ code: BPF_JMP_JEQ_K, k: table.nr.clone3!, jt: 'enosys' });
  prog.push({ code: BPF_JMP_JEQ_K, k: table.nr.clone!, jt: 'clone' });
  for (const name of DENIED) {
    const nr = table.nr[name];
    if (nr !== undefined) prog.push({ code: BPF_JMP_JEQ_K, k: nr, jt: 'deny' });
  }
  prog.push({ code: BPF_RET_K, k: SECCOMP_RET_ALLOW });
  prog.push({ code: BPF_LD_W_ABS, k: OFF_ARG0_LOW, label: 'clone' });
  prog.push({ code: BPF_JMP_JSET_K, k: CLONE_NEW_MASK, jt: 'deny' });
  prog.push({ code: BPF_RET_K, k: SECCOMP_RET_ALLOW });
  prog.push({ code: BPF_RET_K, k: SECCOMP_RET_ERRNO | EPERM, label: 'deny' });
  prog.push({ code: BPF_RET_K, k: SECCOMP_RET_ERRNO | ENOSYS, label: 'enosys' });
  return assemble(prog);
}

function assemble(prog: Insn[]): Buffer {
  const labels = new Map<string, number>();
  prog.forEach((insn, i) => insn.label && labels.set(insn.label, i));
  const out = Buffer.alloc(prog.length * 8);
  prog.forEach((insn, i) => {
    const jump = (label: string | undefined): number => {
      if (label === undefined) return 0;
      const offset = labels.get(label)! - (i + 1);
      if (offset < 0 || offset > 255) throw new Error(`seccomp jump to ${label} out of range`);
      return offset;
    };
    const o = i * 8;
    out.writeUInt16LE(insn.code, o);
    out.writeUInt8(jump(insn.jt), o + 2);
    out.writeUInt8(jump(insn.jf), o + 3);
    out.writeUInt32LE(insn.k >>> 0, o + 4);
  });
  return out;
}
