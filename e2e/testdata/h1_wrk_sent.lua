-- Counts the requests wrk wrote, across its threads, beside the responses
-- it counts itself: a run stopped by -d leaves some written and unanswered.
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	sent = 0
end

function request()
	sent = sent + 1
	return wrk.format()
end

function done(summary, latency, requests)
	local n = 0
	for _, t in ipairs(threads) do
		n = n + t:get("sent")
	end
	io.write(string.format("sent %d\n", n))
end
