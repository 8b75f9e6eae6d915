// Every word on the wall in both languages. Indicator, region and sector names come from
// the server's snapshot metadata; these are the page's own labels.
const STRINGS = {
  zh: {
    title: '贵州经济脉搏',
    subtitle: '货运物流与产业经济 · 实时监测',
    subtitleReplay: '货运物流与产业经济 · 历史回放',
    live: '实时',
    stale: '数据中断',
    connecting: '连接中',
    reconnecting: '重连中',
    waiting: '等待数据',
    updated: '更新于',
    zone: '北京时间',
    kpi: {
      freight_value_today: '今日货运总值',
      shipments_1m: '每分钟发运',
      active_trucks_5m: '在途车辆',
      on_time_rate_1h: '准时送达率',
      export_value_1h: '近1小时出口额',
      digital_share_1h: '数字经济占比',
    },
    map: '全省货运热力与干线流向',
    mapLegend: '近1小时货值',
    sectors: '分行业产值',
    sectorsNote: '近1小时',
    dc: '数据中心',
    dcNote: '近5分钟',
    dcPower: '总负荷',
    dcUtil: '平均利用率',
    exports: '出口目的地',
    exportsNote: '近1小时',
    corridors: '热门线路',
    corridorsNote: '近15分钟发运',
    noData: '暂无数据',
    prefectures: '各市州货运值',
    prefecturesNote: '近1小时',
    vsDay: '较昨日',
    vsWeek: '较上周',
    colDay: '较昨日',
    colWeek: '较上周',
    fastest: '较昨日增长最快：',
    local: '市州内部发运',
    replay: '回放',
    tb: {
      session: '场次',
      play: '播放',
      pause: '暂停',
      back1m: '−1分',
      back1s: '−1秒',
      fwd1s: '+1秒',
      fwd1m: '+1分',
      speed: '速度',
      yesterday: '昨日此时',
      live: '回到实时',
      noHistory: '暂无历史数据',
      loading: '读取中…',
    },
  },
  en: {
    title: 'Guizhou Pulse',
    subtitle: 'Freight & sector economy · live',
    subtitleReplay: 'Freight & sector economy · replay',
    live: 'LIVE',
    stale: 'STALE',
    connecting: 'CONNECTING',
    reconnecting: 'reconnecting',
    waiting: 'waiting for data',
    updated: 'updated',
    zone: 'CST',
    kpi: {
      freight_value_today: 'Freight value today',
      shipments_1m: 'Shipments / minute',
      active_trucks_5m: 'Active trucks',
      on_time_rate_1h: 'On-time rate',
      export_value_1h: 'Exports, last hour',
      digital_share_1h: 'Digital economy share',
    },
    map: 'Freight by prefecture and busiest corridors',
    mapLegend: 'Freight value, last hour',
    sectors: 'Output by sector',
    sectorsNote: 'last hour',
    dc: 'Data centres',
    dcNote: 'last 5 min',
    dcPower: 'IT load',
    dcUtil: 'Utilisation',
    exports: 'Exports by destination',
    exportsNote: 'last hour',
    corridors: 'Busiest corridors',
    corridorsNote: 'shipments, last 15 min',
    noData: 'no data yet',
    prefectures: 'Freight by prefecture',
    prefecturesNote: 'last hour',
    vsDay: 'vs yesterday',
    vsWeek: 'vs last week',
    colDay: 'yesterday',
    colWeek: 'last week',
    fastest: 'Fastest growing vs yesterday:',
    local: 'Within one prefecture',
    replay: 'REPLAY',
    tb: {
      session: 'Session',
      play: 'Play',
      pause: 'Pause',
      back1m: '−1 min',
      back1s: '−1 s',
      fwd1s: '+1 s',
      fwd1m: '+1 min',
      speed: 'Speed',
      yesterday: 'This time yesterday',
      live: 'Back to live',
      noHistory: 'no history yet',
      loading: 'loading…',
    },
  },
};

export function strings(lang) {
  return STRINGS[lang] ?? STRINGS.zh;
}

// Short place names for a crowded map: 黔西南布依族苗族自治州 -> 黔西南州, 贵阳市 -> 贵阳.
export function shortName(place, lang) {
  if (lang === 'en') return place.en;
  return place.zh.replace(/(布依族苗族|苗族侗族)自治州$/, '州').replace(/市$/, '');
}

export function countryName(code, lang) {
  try {
    const names = new Intl.DisplayNames([lang === 'en' ? 'en' : 'zh-CN'], { type: 'region' });
    return names.of(code) ?? code;
  } catch {
    return code;
  }
}
