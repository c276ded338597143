{
	"patcher": {
		"fileversion": 1,
		"appversion": {
			"major": 8,
			"minor": 6,
			"revision": 2,
			"architecture": "x64",
			"modernui": 1
		},
		"classnamespace": "box",
		"rect": [
			120.0,
			120.0,
			760.0,
			700.0
		],
		"openinpresentation": 0,
		"default_fontsize": 12.0,
		"default_fontface": 0,
		"default_fontname": "Arial",
		"gridonopen": 1,
		"gridsize": [
			15.0,
			15.0
		],
		"gridsnaponopen": 1,
		"objectsnaponopen": 1,
		"statusbarvisible": 2,
		"toolbarvisible": 1,
		"boxanimatetime": 200,
		"enablehscroll": 1,
		"enablevscroll": 1,
		"devicewidth": 0.0,
		"description": "",
		"digest": "",
		"tags": "",
		"style": "",
		"boxes": [
			{
				"box": {
					"id": "c-title",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						20.0,
						10.0,
						620.0,
						36.0
					],
					"text": "One voice of exsampling-track (loaded by poly~). Plays ---sample from its start while the note is held, up to its end.",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "in",
					"maxclass": "newobj",
					"numinlets": 0,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						20.0,
						60.0,
						44.0,
						22.0
					],
					"text": "in 1"
				}
			},
			{
				"box": {
					"id": "unpack",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"int",
						"int"
					],
					"patching_rect": [
						20.0,
						95.0,
						86.0,
						22.0
					],
					"text": "unpack 0 0"
				}
			},
			{
				"box": {
					"id": "vel-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 3,
					"outlettype": [
						"int",
						"int",
						"int"
					],
					"patching_rect": [
						160.0,
						130.0,
						65.0,
						22.0
					],
					"text": "t i i i"
				}
			},
			{
				"box": {
					"id": "amp",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"float"
					],
					"patching_rect": [
						300.0,
						165.0,
						58.0,
						22.0
					],
					"text": "/ 127."
				}
			},
			{
				"box": {
					"id": "on",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"int"
					],
					"patching_rect": [
						230.0,
						165.0,
						44.0,
						22.0
					],
					"text": "!= 0"
				}
			},
			{
				"box": {
					"id": "off",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"bang",
						""
					],
					"patching_rect": [
						160.0,
						165.0,
						51.0,
						22.0
					],
					"text": "sel 0"
				}
			},
			{
				"box": {
					"id": "gate",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						20.0,
						200.0,
						44.0,
						22.0
					],
					"text": "gate"
				}
			},
			{
				"box": {
					"id": "note-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"int",
						"bang"
					],
					"patching_rect": [
						20.0,
						235.0,
						51.0,
						22.0
					],
					"text": "t i b"
				}
			},
			{
				"box": {
					"id": "root",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						90.0,
						265.0,
						79.0,
						22.0
					],
					"text": "v ---root"
				}
			},
			{
				"box": {
					"id": "rate",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						20.0,
						300.0,
						330.0,
						22.0
					],
					"text": "expr ($i2 < 0) + ($i2 >= 0) * pow(2.\\, ($i1 - $i2) / 12.)"
				}
			},
			{
				"box": {
					"id": "c-rate",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						370.0,
						295.0,
						330.0,
						52.0
					],
					"text": "docs/osc.md: melodic and pitched (root >= 0) plays at 2^((note - root)/12), otherwise at 1. groove~ follows the buffer's own sample rate.",
					"linecount": 2
				}
			},
			{
				"box": {
					"id": "rate-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 4,
					"outlettype": [
						"bang",
						"bang",
						"bang",
						"float"
					],
					"patching_rect": [
						20.0,
						350.0,
						79.0,
						22.0
					],
					"text": "t b b b f"
				}
			},
			{
				"box": {
					"id": "sig",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 1,
					"outlettype": [
						"signal"
					],
					"patching_rect": [
						260.0,
						390.0,
						44.0,
						22.0
					],
					"text": "sig~"
				}
			},
			{
				"box": {
					"id": "dur",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						180.0,
						390.0,
						72.0,
						22.0
					],
					"text": "v ---dur"
				}
			},
			{
				"box": {
					"id": "end",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						180.0,
						425.0,
						156.0,
						22.0
					],
					"text": "expr $f1 / $f2 - 20."
				}
			},
			{
				"box": {
					"id": "end-max",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"float"
					],
					"patching_rect": [
						180.0,
						460.0,
						58.0,
						22.0
					],
					"text": "max 3."
				}
			},
			{
				"box": {
					"id": "end-delay",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"bang"
					],
					"patching_rect": [
						180.0,
						495.0,
						51.0,
						22.0
					],
					"text": "delay"
				}
			},
			{
				"box": {
					"id": "c-end",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						330.0,
						495.0,
						260.0,
						20.0
					],
					"text": "fade out over the last 20 ms of the sample",
					"linecount": 1
				}
			},
			{
				"box": {
					"id": "start",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						100.0,
						425.0,
						40.0,
						22.0
					],
					"text": "0"
				}
			},
			{
				"box": {
					"id": "amp-f",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"float"
					],
					"patching_rect": [
						20.0,
						425.0,
						40.0,
						22.0
					],
					"text": "f"
				}
			},
			{
				"box": {
					"id": "attack",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						20.0,
						460.0,
						44.0,
						22.0
					],
					"text": "$1 3"
				}
			},
			{
				"box": {
					"id": "busy",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						60.0,
						530.0,
						40.0,
						22.0
					],
					"text": "1"
				}
			},
			{
				"box": {
					"id": "release-r",
					"maxclass": "newobj",
					"numinlets": 0,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						420.0,
						130.0,
						142.0,
						22.0
					],
					"text": "receive ---release"
				}
			},
			{
				"box": {
					"id": "release-t",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"bang",
						"bang"
					],
					"patching_rect": [
						420.0,
						200.0,
						51.0,
						22.0
					],
					"text": "t b b"
				}
			},
			{
				"box": {
					"id": "stop",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						480.0,
						235.0,
						44.0,
						22.0
					],
					"text": "stop"
				}
			},
			{
				"box": {
					"id": "release",
					"maxclass": "message",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						""
					],
					"patching_rect": [
						420.0,
						530.0,
						44.0,
						22.0
					],
					"text": "0 20"
				}
			},
			{
				"box": {
					"id": "c-release",
					"maxclass": "comment",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						480.0,
						565.0,
						220.0,
						20.0
					],
					"text": "note off: 20 ms release, no click",
					"linecount": 1
				}
			},
			{
				"box": {
					"id": "groove",
					"maxclass": "newobj",
					"numinlets": 3,
					"numoutlets": 2,
					"outlettype": [
						"signal",
						"signal"
					],
					"patching_rect": [
						260.0,
						565.0,
						135.0,
						22.0
					],
					"text": "groove~ ---sample"
				}
			},
			{
				"box": {
					"id": "line",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 2,
					"outlettype": [
						"signal",
						"bang"
					],
					"patching_rect": [
						20.0,
						565.0,
						51.0,
						22.0
					],
					"text": "line~"
				}
			},
			{
				"box": {
					"id": "thispoly",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 2,
					"outlettype": [
						"int",
						"int"
					],
					"patching_rect": [
						20.0,
						640.0,
						79.0,
						22.0
					],
					"text": "thispoly~"
				}
			},
			{
				"box": {
					"id": "vca",
					"maxclass": "newobj",
					"numinlets": 2,
					"numoutlets": 1,
					"outlettype": [
						"signal"
					],
					"patching_rect": [
						260.0,
						610.0,
						40.0,
						22.0
					],
					"text": "*~"
				}
			},
			{
				"box": {
					"id": "out",
					"maxclass": "newobj",
					"numinlets": 1,
					"numoutlets": 0,
					"patching_rect": [
						260.0,
						650.0,
						58.0,
						22.0
					],
					"text": "out~ 1"
				}
			}
		],
		"lines": [
			{
				"patchline": {
					"source": [
						"in",
						0
					],
					"destination": [
						"unpack",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"unpack",
						0
					],
					"destination": [
						"gate",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"unpack",
						1
					],
					"destination": [
						"vel-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"vel-t",
						0
					],
					"destination": [
						"off",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"vel-t",
						1
					],
					"destination": [
						"on",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"vel-t",
						2
					],
					"destination": [
						"amp",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"amp",
						0
					],
					"destination": [
						"amp-f",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"on",
						0
					],
					"destination": [
						"gate",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"off",
						0
					],
					"destination": [
						"release-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"gate",
						0
					],
					"destination": [
						"note-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"note-t",
						1
					],
					"destination": [
						"root",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"root",
						0
					],
					"destination": [
						"rate",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"note-t",
						0
					],
					"destination": [
						"rate",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rate",
						0
					],
					"destination": [
						"rate-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rate-t",
						3
					],
					"destination": [
						"sig",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rate-t",
						3
					],
					"destination": [
						"end",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rate-t",
						2
					],
					"destination": [
						"dur",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"dur",
						0
					],
					"destination": [
						"end",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"end",
						0
					],
					"destination": [
						"end-max",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"end-max",
						0
					],
					"destination": [
						"end-delay",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"end-delay",
						0
					],
					"destination": [
						"release",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rate-t",
						1
					],
					"destination": [
						"start",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"start",
						0
					],
					"destination": [
						"groove",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"sig",
						0
					],
					"destination": [
						"groove",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rate-t",
						0
					],
					"destination": [
						"amp-f",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"rate-t",
						0
					],
					"destination": [
						"busy",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"amp-f",
						0
					],
					"destination": [
						"attack",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"attack",
						0
					],
					"destination": [
						"line",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"busy",
						0
					],
					"destination": [
						"thispoly",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"release-r",
						0
					],
					"destination": [
						"release-t",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"release-t",
						1
					],
					"destination": [
						"stop",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"stop",
						0
					],
					"destination": [
						"end-delay",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"release-t",
						0
					],
					"destination": [
						"release",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"release",
						0
					],
					"destination": [
						"line",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"line",
						0
					],
					"destination": [
						"vca",
						1
					]
				}
			},
			{
				"patchline": {
					"source": [
						"line",
						0
					],
					"destination": [
						"thispoly",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"groove",
						0
					],
					"destination": [
						"vca",
						0
					]
				}
			},
			{
				"patchline": {
					"source": [
						"vca",
						0
					],
					"destination": [
						"out",
						0
					]
				}
			}
		]
	}
}
