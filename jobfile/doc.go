// Package jobfile turns a YAML job file into a validated topology.Plan.
//
// The user reference is docs/job-file.md; in short:
//
//	name: squares            # required: letters, digits, _ . -
//	description: text        # optional
//	params:                  # optional: name -> default scalar; a name with no value must be given with -P
//	  count: 100000
//	consistent:              # optional: one consistent region started at every source of the job
//	  trigger: periodic      # periodic (default) | operator_driven
//	  period: 500ms          # required for periodic, refused for operator_driven
//	  drain_timeout: 180s    # default 180s
//	  reset_timeout: 180s    # default 180s
//	  max_consecutive_attempts: 5
//	steps:
//	  - source: sequence     # role key: source: <kind> / sink: <kind>; other keys are the kind's parameters
//	    count: ${count}
//	  - parallel: 4          # opens a parallel region, up to the matching end_parallel; regions nest
//	    routing: hash        # round_robin (default) | hash | broadcast
//	    key: "it % 13"       # hash routing only, required there
//	  - map: "it * 2"        # transform: `<kind>: scalar` sets the kind's Primary parameter,
//	                         # `<kind>: {p: v}` gives the parameters, `<kind>:` (or `- <kind>`) none
//	  - end_parallel
//	  - sink: file
//	    path: out/${count}.txt
//
// Every step is a mapping with exactly one kind key (source, sink, parallel, end_parallel or a registered
// transform kind) or the bare word end_parallel (or a bare transform kind). Operator steps also take the
// reserved keys id (the operator's name, [A-Za-z0-9_-]+, unique), from (an id, id.N for output port N, or a
// list of those: the step reads their union; the default is the previous operator step's only output) and
// isolate (bool: a PE of its own). Every other key is a parameter of the kind, checked by the kind's
// operator.Spec (Configure, then Build). Unnamed operators are called after their kind: map, map_2, … in
// one namespace shared by sources, transforms and sinks. A transform declaring a `ways` parameter (split)
// has that many output ports.
//
// Substitution: ${name} in any scalar value (not in keys, not in params defaults) is the param's value,
// Options.Params over the file's defaults. A plain (unquoted, untagged) scalar that is exactly ${name}
// takes the value's YAML type; a quoted one, or a reference inside a longer text, gives text. $${ is a
// literal ${. -P values are read as plain YAML scalars.
//
// Every problem found is reported, each located as "file:line (step n: kind)", in one topology.Problems;
// the plan's own Validate runs last.
package jobfile
