#!/usr/bin/env python3
"""Reads a Perfetto protobuf trace with Perfetto's own schema (PyPI's `perfetto` package ships it compiled:
perfetto_trace_pb2, which needs `protobuf` >= 6.31) and prints what it holds as JSON, so a test can check
`vfiotrace report --perfetto-trace` without the code that wrote it:

    python3 Scripts/perfetto-trace-summary.py TRACE            tracks and events as JSON on stdout
    python3 Scripts/perfetto-trace-summary.py --schema DESC    compares a descriptor set (protoc
        --descriptor_set_out of our .proto) with Perfetto's schema: every message, field number, type,
        label and enum value must match; prints the differences and exits 1 if any

Exits 3 when Perfetto's schema cannot be imported (`python3 -m pip install --target .cache/pypi perfetto`), so callers can skip saying why.
Only the schema is used: nothing here starts or downloads Perfetto's trace processor.
"""
import json
import os
import sys

# .ci/run installs the package under the repository's .cache (pip --target), leaving the system's Python alone.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "pypi"))

try:
    from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb
except Exception as e:  # the package, or a protobuf runtime new enough for its generated code, is missing
    print(f"perfetto's schema is not importable: {e}", file=sys.stderr)
    sys.exit(3)


def annotation_value(a):
    """As text (bool as true/false), so 64-bit values survive JSON readers that parse numbers as doubles."""
    which = a.WhichOneof("value")
    v = getattr(a, which) if which else ""
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def summary(path):
    with open(path, "rb") as f:
        trace = pb.Trace.FromString(f.read())
    tracks, events = [], []
    for p in trace.packet:
        if p.HasField("track_descriptor"):
            d = p.track_descriptor
            tracks.append({
                "uuid": d.uuid,
                "parent": d.parent_uuid if d.HasField("parent_uuid") else None,
                "name": d.name,
                "description": d.description if d.HasField("description") else None,
                "rank": d.sibling_order_rank if d.HasField("sibling_order_rank") else None,
                "childOrdering": pb.TrackDescriptor.ChildTracksOrdering.Name(d.child_ordering),
                "sequence": p.trusted_packet_sequence_id,
            })
        elif p.HasField("track_event"):
            e = p.track_event
            events.append({
                "ts": p.timestamp,
                "type": pb.TrackEvent.Type.Name(e.type),
                "track": e.track_uuid,
                "name": e.name if e.HasField("name") else None,
                "categories": list(e.categories),
                "flowIds": list(e.flow_ids),
                "terminatingFlowIds": list(e.terminating_flow_ids),
                "annotations": {a.name: annotation_value(a) for a in e.debug_annotations},
                "sequence": p.trusted_packet_sequence_id,
            })
        else:
            raise SystemExit(f"a packet that is neither a track descriptor nor a track event: {p}")
    json.dump({"tracks": tracks, "events": events}, sys.stdout)


def compare_schema(path):
    from google.protobuf import descriptor_pb2
    with open(path, "rb") as f:
        ours = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    problems = []
    checked = 0

    def enums(ours_enums, theirs_by_name, where):
        nonlocal checked
        for en in ours_enums:
            theirs = theirs_by_name.get(en.name)
            if theirs is None:
                problems.append(f"{where}{en.name}: no such enum in Perfetto's schema")
                continue
            for v in en.value:
                tv = theirs.values_by_name.get(v.name)
                checked += 1
                if tv is None or tv.number != v.number:
                    problems.append(f"{where}{en.name}.{v.name} = {v.number}: Perfetto has {tv.number if tv else 'none'}")

    def messages(ours_messages, theirs_by_name, where):
        nonlocal checked
        for m in ours_messages:
            theirs = theirs_by_name.get(m.name)
            if theirs is None:
                problems.append(f"{where}{m.name}: no such message in Perfetto's schema")
                continue
            for f in m.field:
                tf = theirs.fields_by_name.get(f.name)
                checked += 1
                if tf is None:
                    problems.append(f"{where}{m.name}.{f.name}: no such field in Perfetto's schema")
                    continue
                repeated = tf.is_repeated if hasattr(tf, "is_repeated") else tf.label == tf.LABEL_REPEATED
                if tf.number != f.number or tf.type != f.type or repeated != (f.label == f.LABEL_REPEATED):
                    problems.append(f"{where}{m.name}.{f.name}: ours #{f.number} type {f.type}, Perfetto's #{tf.number} type {tf.type}")
                ours_oneof = m.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else None
                theirs_oneof = tf.containing_oneof.name if tf.containing_oneof else None
                if ours_oneof != theirs_oneof:
                    problems.append(f"{where}{m.name}.{f.name}: in oneof {ours_oneof}, Perfetto's in {theirs_oneof}")
            enums(m.enum_type, theirs.enum_types_by_name, f"{where}{m.name}.")
            messages(m.nested_type, theirs.nested_types_by_name, f"{where}{m.name}.")

    for fd in ours.file:
        if fd.package != "perfetto.protos":
            problems.append(f"{fd.name}: package {fd.package}, Perfetto's is perfetto.protos")
        messages(fd.message_type, pb.DESCRIPTOR.message_types_by_name, "")
        enums(fd.enum_type, pb.DESCRIPTOR.enum_types_by_name, "")
    for p in problems:
        print(p)
    print(f"{checked} fields and enum values checked, {len(problems)} differences")
    sys.exit(1 if problems or checked == 0 else 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--schema":
        compare_schema(sys.argv[2])
    elif len(sys.argv) == 2:
        summary(sys.argv[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
