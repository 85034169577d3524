-- wrk script: each thread sends one of the cookies given after "--", so that
-- with -t2 and two cookies pinned to different backends half the connections
-- stick to each, as two groups of returning clients would.
local threads = 0

function setup(thread)
	thread:set("id", threads)
	threads = threads + 1
end

function init(args)
	if #args > 0 then
		wrk.headers["Cookie"] = args[(id % #args) + 1]
	end
end
