import type { DescEnum, DescField, DescFile, DescMessage, DescMethod, DescService } from '@bufbuild/protobuf';

type Commented = DescMessage | DescField | DescEnum | DescEnum['values'][number] | DescService | DescMethod;

/** Leading comments from the descriptors' source info (kept by `buf build`), by declaration path. */
export class CommentIndex {
  readonly #byFile = new Map<DescFile, Map<string, string>>();

  of(desc: Commented): string {
    const file = fileOf(desc);
    let map = this.#byFile.get(file);
    if (!map) {
      map = new Map();
      for (const loc of file.proto.sourceCodeInfo?.location ?? []) {
        if (loc.leadingComments) map.set(loc.path.join(','), clean(loc.leadingComments));
      }
      this.#byFile.set(file, map);
    }
    const path = pathOf(desc);
    return path ? (map.get(path.join(',')) ?? '') : '';
  }
}

function clean(comment: string): string {
  return comment
    .split('\n')
    .map((l) => (l.startsWith(' ') ? l.slice(1) : l).trimEnd())
    .join('\n')
    .trim();
}

function fileOf(desc: Commented): DescFile {
  switch (desc.kind) {
    case 'field':
      return desc.parent.file;
    case 'enum_value':
      return desc.parent.file;
    case 'rpc':
      return desc.parent.file;
    default:
      return desc.file;
  }
}

function pathOf(desc: Commented): number[] | undefined {
  switch (desc.kind) {
    case 'message': {
      if (desc.parent) {
        const parent = pathOf(desc.parent);
        return parent && [...parent, 3, desc.parent.proto.nestedType.indexOf(desc.proto)];
      }
      return [4, desc.file.proto.messageType.indexOf(desc.proto)];
    }
    case 'field': {
      const parent = pathOf(desc.parent);
      return parent && [...parent, 2, desc.parent.proto.field.indexOf(desc.proto)];
    }
    case 'enum': {
      if (desc.parent) {
        const parent = pathOf(desc.parent);
        return parent && [...parent, 4, desc.parent.proto.enumType.indexOf(desc.proto)];
      }
      return [5, desc.file.proto.enumType.indexOf(desc.proto)];
    }
    case 'enum_value': {
      const parent = pathOf(desc.parent);
      return parent && [...parent, 2, desc.parent.proto.value.indexOf(desc.proto)];
    }
    case 'service':
      return [6, desc.file.proto.service.indexOf(desc.proto)];
    case 'rpc': {
      const parent = pathOf(desc.parent);
      return parent && [...parent, 2, desc.parent.proto.method.indexOf(desc.proto)];
    }
    default:
      return undefined;
  }
}
